//! Condition tree → classic BPF.
//!
//! 1. The tree becomes a decision graph, built from the end backwards (each test knows where
//!    its true and false outcomes go), with equal nodes shared: the ARP and RARP halves of
//!    `host` end in the same address tests, the three protocols of `port` in the same port
//!    tests.
//! 2. Jump threading: along each edge we know the outcome of the tests on the way; an edge into
//!    a test whose outcome is already known goes straight to that outcome's successor (after
//!    `ether type is IPv4` failed on a path, `ether type is IPv6?` is not asked again there if
//!    the answer is known). Only the value of a load that already succeeded on the path is
//!    used, so a short packet still ends the filter exactly where libpcap's program would.
//! 3. Layout in topological order; a load is emitted only when the register does not already
//!    hold the value on every path into the test; long conditional jumps (more than 255
//!    instructions) go through an unconditional `ja`.

use super::parse::{Atom, Cond, Load};
use super::{
    Insn, ABS, ADD, ALU, AND, B, IMM, IND, JA, JEQ, JGE, JGT, JMP, LD, LDX, LSH, MEM, MISC, MSH, RET, SKF_AD_OFF,
    SNAPLEN, ST, TAX, X,
};
use std::collections::HashMap;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Node {
    Ret(bool),
    Test { atom: Atom, t: usize, f: usize },
    /// `M[0] = 4`, then `next`.
    Shift { next: usize },
}

struct Graph {
    nodes: Vec<Node>,
    shared: HashMap<Node, usize>,
}

impl Graph {
    fn node(&mut self, node: Node) -> usize {
        if let Some(&id) = self.shared.get(&node) {
            return id;
        }
        self.nodes.push(node);
        self.shared.insert(node, self.nodes.len() - 1);
        self.nodes.len() - 1
    }

    /// The entry of `cond`'s tests, which end in `t` when it holds and `f` when not.
    fn build(&mut self, cond: &Cond, t: usize, f: usize) -> usize {
        match cond {
            Cond::Test(atom) => self.node(Node::Test { atom: *atom, t, f }),
            Cond::And(all) => all.iter().rev().fold(t, |next, c| self.build(c, next, f)),
            Cond::Or(any) => any.iter().rev().fold(f, |next, c| self.build(c, t, next)),
            Cond::Not(inner) => self.build(inner, f, t),
            Cond::ShiftThen(inner) => {
                let next = self.build(inner, t, f);
                self.node(Node::Shift { next })
            }
        }
    }
}

/// Outcomes known on a path: (test, result), sorted.
type Facts = Vec<(Atom, bool)>;

fn holds(op: u16, value: u32, k: u32) -> bool {
    match op {
        JEQ => value == k,
        JGT => value > k,
        JGE => value >= k,
        _ => value & k != 0,
    }
}

/// The outcome of `atom` if `facts` decide it.
fn decide(facts: &Facts, atom: &Atom) -> Option<bool> {
    facts.iter().find_map(|(known, result)| {
        if known == atom {
            Some(*result)
        } else if known.load == atom.load && known.mask == atom.mask && known.op == JEQ && *result {
            Some(holds(atom.op, known.k, atom.k))
        } else {
            None
        }
    })
}

fn depends_on_offset(atom: &Atom) -> bool {
    matches!(atom.load, Load::Var { .. } | Load::Tran { var: true, .. })
}

fn meet(into: &mut Option<Facts>, facts: Facts) {
    *into = Some(match into.take() {
        None => facts,
        Some(old) => old.into_iter().filter(|fact| facts.binary_search(fact).is_ok()).collect(),
    });
}

/// Redirects every edge past the tests whose outcome is known on it (see the module doc).
fn thread_jumps(nodes: &mut [Node], root: usize) {
    let mut facts_in: Vec<Option<Facts>> = vec![None; nodes.len()];
    facts_in[root] = Some(Vec::new());
    // Children are made before their parents, so descending ids is a topological order.
    for id in (0..nodes.len()).rev() {
        let Some(facts) = facts_in[id].take() else { continue };
        match nodes[id] {
            Node::Ret(_) => {}
            Node::Shift { next } => {
                let kept = facts.into_iter().filter(|(atom, _)| !depends_on_offset(atom)).collect();
                meet(&mut facts_in[next], kept);
            }
            Node::Test { atom, t, f } => {
                let mut targets = [t, f];
                for (target, result) in targets.iter_mut().zip([true, false]) {
                    let mut known = facts.clone();
                    if let Err(at) = known.binary_search(&(atom, result)) {
                        known.insert(at, (atom, result));
                    }
                    while let Node::Test { atom: next, t, f } = nodes[*target] {
                        match decide(&known, &next) {
                            Some(true) => *target = t,
                            Some(false) => *target = f,
                            None => break,
                        }
                    }
                    meet(&mut facts_in[*target], known);
                }
                nodes[id] = Node::Test { atom, t: targets[0], f: targets[1] };
            }
        }
    }
}

/// Points every edge at the first of the nodes equal to its target (children first, so equal
/// subgraphs collapse whole); returns the new root and whether anything changed.
///
/// Two kinds of node go away: a test that rejects whichever way it goes (a load past the end
/// of the packet rejects too, so the outcome is the same), and, when `offsets_read` is false,
/// the store of the offset that no test reads.
fn share_equal(nodes: &mut [Node], root: usize, offsets_read: bool) -> (usize, bool) {
    let mut canonical: Vec<usize> = (0..nodes.len()).collect();
    let mut seen: HashMap<Node, usize> = HashMap::new();
    let mut changed = false;
    for id in 0..nodes.len() {
        let node = match nodes[id] {
            Node::Ret(accept) => Node::Ret(accept),
            Node::Shift { next } => Node::Shift { next: canonical[next] },
            Node::Test { atom, t, f } => Node::Test { atom, t: canonical[t], f: canonical[f] },
        };
        changed |= node != nodes[id];
        nodes[id] = node;
        let first = match node {
            Node::Test { t, f, .. } if t == f && nodes[t] == Node::Ret(false) => t,
            Node::Shift { next } if !offsets_read => next,
            _ => *seen.entry(node).or_insert(id),
        };
        changed |= first != id;
        canonical[id] = first;
    }
    (canonical[root], changed)
}

/// Whether a test reachable from `root` reads the offset `M[0]`.
fn reads_offset(nodes: &[Node], root: usize) -> bool {
    let mut live = vec![false; nodes.len()];
    live[root] = true;
    (0..nodes.len()).rev().any(|id| {
        live_mark(nodes, &mut live, id) && matches!(nodes[id], Node::Test { atom, .. } if depends_on_offset(&atom))
    })
}

/// What a register is known to hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Value {
    /// A (masked) load.
    Loaded(Load, u32),
    /// `M[0]`, the variable part of the offsets.
    Offset,
    /// The start of the transport header: `4*([nl]&0xf)`, plus `M[0]` when `var`.
    Transport { nl: u32, var: bool },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Registers {
    a: Option<Value>,
    x: Option<Value>,
}

const UNKNOWN: Registers = Registers { a: None, x: None };

fn meet_registers(into: &mut Option<Registers>, from: Registers) {
    *into = Some(match *into {
        None => from,
        Some(old) => Registers { a: old.a.filter(|v| from.a == Some(*v)), x: old.x.filter(|v| from.x == Some(*v)) },
    });
}

/// Where a jump goes: a node's first instruction or a trampoline.
type Label = usize;

#[derive(Clone, Copy, Debug)]
enum Flow {
    Next,
    Cond { t: Label, f: Label },
    Jump(Label),
}

#[derive(Clone, Copy, Debug)]
struct Item {
    code: u16,
    k: u32,
    flow: Flow,
    /// The label of the instruction, when something jumps to it.
    label: Option<Label>,
}

fn plain(code: u16, k: u32) -> Item {
    Item { code, k, flow: Flow::Next, label: None }
}

/// The instructions that leave `(load & mask)` in A, given what the registers hold; and what
/// they hold afterwards.
fn load_items(atom: &Atom, regs: Registers, out: &mut Vec<Item>) -> Registers {
    let want = Value::Loaded(atom.load, atom.mask);
    if regs.a == Some(want) {
        return regs;
    }
    let mut x = regs.x;
    if atom.mask != u32::MAX && regs.a == Some(Value::Loaded(atom.load, u32::MAX)) {
        out.push(plain(ALU | AND, atom.mask));
        return Registers { a: Some(want), x };
    }
    match atom.load {
        Load::Abs { size, off } => out.push(plain(LD | size | ABS, off)),
        Load::Anc { size, which } => out.push(plain(LD | size | ABS, SKF_AD_OFF + which)),
        Load::Var { size, off } => {
            if x != Some(Value::Offset) {
                out.push(plain(LDX | MEM, 0));
                x = Some(Value::Offset);
            }
            out.push(plain(LD | size | IND, off));
        }
        Load::Tran { nl, off, var } => {
            let start = Value::Transport { nl, var };
            if x != Some(start) {
                if var {
                    // No 4*([k]&0xf) form with an index: compute M[0] + 4*(IHL) by hand.
                    out.extend([
                        plain(LDX | MEM, 0),
                        plain(LD | B | IND, nl),
                        plain(ALU | AND, 0xf),
                        plain(ALU | LSH, 2),
                        plain(ALU | ADD | X, 0),
                        plain(MISC | TAX, 0),
                    ]);
                } else {
                    out.push(plain(LDX | B | MSH, nl));
                }
                x = Some(start);
            }
            out.push(plain(LD | super::H | IND, nl + off));
        }
    }
    if atom.mask != u32::MAX {
        out.push(plain(ALU | AND, atom.mask));
    }
    Registers { a: Some(want), x }
}

/// Compiles a condition tree into a program.
pub(super) fn generate(cond: &Cond) -> Vec<Insn> {
    let mut graph = Graph { nodes: Vec::new(), shared: HashMap::new() };
    let reject = graph.node(Node::Ret(false));
    let accept = graph.node(Node::Ret(true));
    let root = graph.build(cond, accept, reject);
    let mut nodes = graph.nodes;
    let mut root = root;
    // Threading makes nodes equal that were not (the ARP half of `host` now fails straight to
    // the reject, as the RARP half does); sharing them again can make more edges known.
    for _ in 0..4 {
        thread_jumps(&mut nodes, root);
        let offsets_read = reads_offset(&nodes, root);
        let (shared, changed) = share_equal(&mut nodes, root, offsets_read);
        root = shared;
        if !changed {
            break;
        }
    }

    // Live nodes in topological order (descending ids), each with the registers on entry.
    let mut live = vec![false; nodes.len()];
    live[root] = true;
    let mut regs_in: Vec<Option<Registers>> = vec![None; nodes.len()];
    regs_in[root] = Some(UNKNOWN);
    let mut order: Vec<usize> = (0..nodes.len()).rev().filter(|&id| live_mark(&nodes, &mut live, id)).collect();
    // The returns go last (nothing comes after them), the one a test's true edge reaches first
    // leading, as in libpcap's listings.
    let first_true_target = order.iter().find_map(|&id| match nodes[id] {
        Node::Test { t, .. } if matches!(nodes[t], Node::Ret(_)) => Some(t),
        _ => None,
    });
    order.sort_by_key(|&id| match nodes[id] {
        Node::Ret(_) => 1 + usize::from(Some(id) != first_true_target),
        _ => 0,
    });

    let mut items: Vec<Item> = Vec::new();
    let mut reads_offset = false;
    for (at, &id) in order.iter().enumerate() {
        let regs = regs_in[id].unwrap_or(UNKNOWN);
        let first = items.len();
        match nodes[id] {
            Node::Ret(accept) => items.push(plain(RET, if accept { SNAPLEN } else { 0 })),
            Node::Shift { next } => {
                items.extend([plain(LD | IMM, 4), plain(ST, 0)]);
                if order.get(at + 1) != Some(&next) {
                    items.push(Item { code: JMP | JA, k: 0, flow: Flow::Jump(next), label: None });
                }
                let x = regs.x.filter(|v| !matches!(v, Value::Offset | Value::Transport { var: true, .. }));
                meet_registers(&mut regs_in[next], Registers { a: None, x });
            }
            Node::Test { atom, t, f } => {
                let after = load_items(&atom, regs, &mut items);
                items.push(Item { code: JMP | atom.op, k: atom.k, flow: Flow::Cond { t, f }, label: None });
                meet_registers(&mut regs_in[t], after);
                meet_registers(&mut regs_in[f], after);
            }
        }
        reads_offset |= items[first..].iter().any(|i| i.code == LDX | MEM);
        items[first].label = Some(id);
    }
    if reads_offset {
        // Tests after the first `vlan` read M[0] on every path, also where that `vlan` was not
        // evaluated; the kernel's checker wants it written first, and its value there is 0.
        items.splice(0..0, [plain(LD | IMM, 0), plain(ST, 0)]);
    }
    resolve(items, nodes.len())
}

/// Marks the successors of a live node live; returns whether `id` is live.
fn live_mark(nodes: &[Node], live: &mut [bool], id: usize) -> bool {
    if !live[id] {
        return false;
    }
    match nodes[id] {
        Node::Ret(_) => {}
        Node::Shift { next } => live[next] = true,
        Node::Test { t, f, .. } => {
            live[t] = true;
            live[f] = true;
        }
    }
    true
}

/// Turns labels into offsets, routing conditional jumps of more than 255 instructions through
/// an unconditional jump placed right after them.
fn resolve(mut items: Vec<Item>, mut next_label: Label) -> Vec<Insn> {
    loop {
        let positions = label_positions(&items);
        let far = |from: usize, to: Label| positions.get(&to).is_some_and(|&p| p.saturating_sub(from + 1) > 255);
        let mut changed = false;
        let mut widened = Vec::with_capacity(items.len());
        for (at, mut item) in items.into_iter().enumerate() {
            let mut trampolines = Vec::new();
            if let Flow::Cond { t, f } = &mut item.flow {
                for target in [t, f] {
                    if far(at, *target) {
                        trampolines.push(Item { code: JMP | JA, k: 0, flow: Flow::Jump(*target), label: Some(next_label) });
                        *target = next_label;
                        next_label += 1;
                        changed = true;
                    }
                }
            }
            widened.push(item);
            widened.extend(trampolines);
        }
        items = widened;
        if !changed {
            break;
        }
    }
    let positions = label_positions(&items);
    let offset = |from: usize, to: Label| positions.get(&to).map_or(0, |&p| p.saturating_sub(from + 1));
    items
        .iter()
        .enumerate()
        .map(|(at, item)| match item.flow {
            Flow::Next => Insn { code: item.code, jt: 0, jf: 0, k: item.k },
            Flow::Jump(to) => Insn { code: item.code, jt: 0, jf: 0, k: u32::try_from(offset(at, to)).unwrap_or(0) },
            Flow::Cond { t, f } => Insn {
                code: item.code,
                jt: u8::try_from(offset(at, t)).unwrap_or(0),
                jf: u8::try_from(offset(at, f)).unwrap_or(0),
                k: item.k,
            },
        })
        .collect()
}

fn label_positions(items: &[Item]) -> HashMap<Label, usize> {
    items.iter().enumerate().filter_map(|(at, item)| item.label.map(|label| (label, at))).collect()
}
