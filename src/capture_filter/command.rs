//! The command over this module: `network capture-filter` (interactive, `--show`, `--test
//! IFACE`) and `cyberx-xsense-capture-filter` (the reference's flags). What the flags and files
//! gave travels as [`Given`], every value validated when parsed and again when a request is
//! decoded on the daemon's socket; the interactive questions are asked through the executor's
//! prompter, before anything is locked ([`ask`]); [`run`] then plans, prints as the reference
//! does, writes all components or none, and asks the running ones to reload.
//!
//! Writing and signalling need root (the daemon).
#![forbid(unsafe_code)]

use super::*;
use crate::context::Context;
use crate::error::{Error, Result};
use crate::outcome::{emit, Status};
use crate::prompt::{self, Echo, Prompter, Reply};
use nanoserde::SerJson;
use std::io::Write;

/// An include list (`-i` file, or the lines typed): one entry a line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IncludeList(pub Vec<Entry>);
/// An exclude list (`-x`): as [`IncludeList`], plus channels on a port.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExcludeList(pub Vec<Entry>);
/// A comma-separated port list (`502,443`).
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct PortList(pub Vec<u16>);
/// The VLAN id to include (one at most; see the module doc).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VlanId(pub u16);
/// A base filter, checked to be in the supported language.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BaseFilter(pub String);

fn lines<T: std::fmt::Display>(items: &[T], separator: &str) -> String {
    items.iter().map(T::to_string).collect::<Vec<_>>().join(separator)
}

impl IncludeList {
    /// Parses a list's text.
    pub fn parse(text: &str) -> std::result::Result<IncludeList, CaptureFilterError> {
        parse_entries(text, false).map(IncludeList)
    }
}
impl std::fmt::Display for IncludeList {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&lines(&self.0, "\n"))
    }
}
impl ExcludeList {
    /// Parses a list's text.
    pub fn parse(text: &str) -> std::result::Result<ExcludeList, CaptureFilterError> {
        parse_entries(text, true).map(ExcludeList)
    }
}
impl std::fmt::Display for ExcludeList {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&lines(&self.0, "\n"))
    }
}
impl PortList {
    /// Parses `502,443` (empty: none).
    pub fn parse(text: &str) -> std::result::Result<PortList, CaptureFilterError> {
        parse_ports(text).map(PortList)
    }
}
impl std::fmt::Display for PortList {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&lines(&self.0, ","))
    }
}
impl VlanId {
    /// Parses a VLAN id list holding one id.
    pub fn parse(text: &str) -> std::result::Result<VlanId, CaptureFilterError> {
        parse_vlan_ids(text)?.map(VlanId).ok_or_else(|| CaptureFilterError::BadVlan(String::new()))
    }
}
impl std::fmt::Display for VlanId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)
    }
}
impl BaseFilter {
    /// Checks a base filter (parse only).
    pub fn parse(text: &str) -> std::result::Result<BaseFilter, crate::bpf::FilterError> {
        crate::bpf::check(text.trim()).map(|()| BaseFilter(text.trim().to_string()))
    }
}
impl std::fmt::Display for BaseFilter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}
impl std::fmt::Display for Program {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Program::All => f.write_str("all"),
            Program::One(component) => f.write_str(component.name()),
        }
    }
}
impl std::fmt::Display for Mode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

crate::validate::wire_text!(IncludeList, ExcludeList, PortList, VlanId, BaseFilter, Program, Mode);

/// What `cyberx-xsense-capture-filter`'s flags and files gave.
#[derive(Clone, Debug, PartialEq)]
pub struct Given {
    /// `-i`: the include list's entries (read from the file by the caller).
    pub include: Option<IncludeList>,
    /// `-x`.
    pub exclude: Option<ExcludeList>,
    /// `-itp`.
    pub include_tcp_ports: PortList,
    /// `-iup`.
    pub include_udp_ports: PortList,
    /// `-etp`.
    pub exclude_tcp_ports: PortList,
    /// `-eup`.
    pub exclude_udp_ports: PortList,
    /// `-vlan`.
    pub vlan: Option<VlanId>,
    /// `-p`.
    pub program: Program,
    /// `-m`.
    pub mode: Mode,
    /// `-o`, `-s`, `-c`: horizon's, traffic-monitor's and the collector's base filters.
    pub base_horizon: Option<BaseFilter>,
    /// `-s`.
    pub base_traffic_monitor: Option<BaseFilter>,
    /// `-c`.
    pub base_collector: Option<BaseFilter>,
}

crate::wire::wire_fields!(Given {
    include,
    exclude,
    include_tcp_ports,
    include_udp_ports,
    exclude_tcp_ports,
    exclude_udp_ports,
    vlan,
    program,
    mode,
    base_horizon,
    base_traffic_monitor,
    base_collector,
});

/// A request ready to plan: what to build and for which components, and whether lists were
/// given (the reference says so per component).
pub struct Asked {
    request: Request,
    program: Program,
    include_given: bool,
    exclude_given: bool,
}

impl Given {
    /// The request the flags make.
    pub fn asked(&self) -> Asked {
        let mut request = Request {
            include: self.include.as_ref().map(|l| l.0.clone()).unwrap_or_default(),
            exclude: self.exclude.as_ref().map(|l| l.0.clone()).unwrap_or_default(),
            include_tcp_ports: self.include_tcp_ports.0.clone(),
            include_udp_ports: self.include_udp_ports.0.clone(),
            exclude_tcp_ports: self.exclude_tcp_ports.0.clone(),
            exclude_udp_ports: self.exclude_udp_ports.0.clone(),
            vlan: self.vlan.map(|v| v.0),
            mode: Some(self.mode),
            bases: Vec::new(),
        };
        for (component, base) in [
            (Component::Horizon, &self.base_horizon),
            (Component::TrafficMonitor, &self.base_traffic_monitor),
            (Component::Collector, &self.base_collector),
        ] {
            if let Some(base) = base {
                request.bases.push((component, base.0.clone()));
            }
        }
        Asked { request, program: self.program.clone(), include_given: self.include.is_some(), exclude_given: self.exclude.is_some() }
    }
}

/// A yes/no question with no as the default (`[y/N]`): only y or yes is yes.
fn yes_no(prompter: &mut dyn Prompter, question: &str) -> Result<bool> {
    for _ in 0..prompt::MAX_ATTEMPTS {
        match prompter.ask(question, Echo::Shown)? {
            Reply::Line(line) => match line.trim().to_ascii_lowercase().as_str() {
                "y" | "yes" => return Ok(true),
                "" | "n" | "no" => return Ok(false),
                _ => prompter.complain("Please respond with 'yes' or 'no' (or 'y' or 'n')."),
            },
            Reply::Invalid(why) => prompter.complain(&why),
            Reply::End => return Err(Error::Usage("end of input before every question was answered: nothing changed".into())),
            Reply::Interrupted => return Err(Error::Cancelled("nothing changed".into())),
        }
    }
    Err(Error::Usage(format!("no valid answer after {} tries: nothing changed", prompt::MAX_ATTEMPTS)))
}

/// One answer, taken by `parse` (asked again when it does not fit).
fn answer<T>(prompter: &mut dyn Prompter, question: &str, parse: &dyn Fn(&str) -> Result<T>) -> Result<T> {
    for _ in 0..prompt::MAX_ATTEMPTS {
        match prompter.ask(question, Echo::Shown)? {
            Reply::Line(line) => match parse(line.trim()) {
                Ok(value) => return Ok(value),
                Err(err) => prompter.complain(&format!("network capture-filter: {err}")),
            },
            Reply::Invalid(why) => prompter.complain(&why),
            Reply::End => return Err(Error::Usage("end of input before every question was answered: nothing changed".into())),
            Reply::Interrupted => return Err(Error::Cancelled("nothing changed".into())),
        }
    }
    Err(Error::Usage(format!("no valid answer after {} tries: nothing changed", prompt::MAX_ATTEMPTS)))
}

/// A list typed at the prompt: one entry a line, an empty line ends it (there is no editor on a
/// recovery image). A bad entry is explained and the line asked again.
fn entries(prompter: &mut dyn Prompter, exclude: bool) -> Result<Vec<Entry>> {
    let forms = if exclude { "a.b.c.d, a.b.c.d,e.f.g.h, a.b.c.d,e.f.g.h,PORT, a.b.c, a.b.c,d.e.f" } else { "a.b.c.d, a.b.c.d,e.f.g.h, a.b.c, a.b.c,d.e.f" };
    prompter.complain(&format!("one entry a line ({forms}); an empty line ends the list"));
    let mut list = Vec::new();
    loop {
        match prompter.ask("> ", Echo::Shown)? {
            Reply::Line(line) if line.trim().is_empty() => return Ok(list),
            Reply::Line(line) => match Entry::parse(&line, exclude) {
                Ok(entry) if list.contains(&entry) => {}
                Ok(entry) => list.push(entry),
                Err(err) => prompter.complain(&format!("network capture-filter: {err}")),
            },
            Reply::Invalid(why) => prompter.complain(&why),
            Reply::End => return Ok(list),
            Reply::Interrupted => return Err(Error::Cancelled("nothing changed".into())),
        }
    }
}

/// The interactive form's questions, word for word as the reference asks them.
pub fn ask(prompter: &mut dyn Prompter) -> Result<Asked> {
    let mut request = Request::default();
    let include_given = yes_no(prompter, "Would you like to supply devices and subnet masks you wish to include in the capture filter? [y/N]: ")?;
    if include_given {
        request.include = entries(prompter, false)?;
    }
    let exclude_given = yes_no(prompter, "Would you like to supply devices and subnet masks you wish to exclude from the capture filter? [y/N]: ")?;
    if exclude_given {
        request.exclude = entries(prompter, true)?;
    }
    let ports = |text: &str| parse_ports(&text.replace(' ', "")).map_err(Error::from);
    request.include_tcp_ports = answer(prompter, "Enter tcp ports to include (delimited by comma or Enter to skip): ", &ports)?;
    request.include_udp_ports = answer(prompter, "Enter udp ports to include (delimited by comma or Enter to skip): ", &ports)?;
    request.exclude_tcp_ports = answer(prompter, "Enter tcp ports to exclude (delimited by comma or Enter to skip): ", &ports)?;
    request.exclude_udp_ports = answer(prompter, "Enter udp ports to exclude (delimited by comma or Enter to skip): ", &ports)?;
    request.vlan = answer(prompter, "Enter VLAN ids to include (delimited by comma or Enter to skip): ", &|text| {
        parse_vlan_ids(text).map_err(Error::from)
    })?;
    let program = answer(prompter, "In which component do you wish to apply this capture filter? ", &|text| {
        Program::parse(text).map_err(Error::from)
    })?;
    for component in program.components() {
        let question = format!("Would you like to supply a custom base capture filter for the {} component? [y/N]: ", component.name());
        if yes_no(prompter, &question)? {
            let base = answer(prompter, "Base capture filter: ", &|text| BaseFilter::parse(text).map_err(|e| Error::Usage(e.to_string())))?;
            request.set_base(component, &base.0)?;
        }
    }
    let internal = prompt::confirm(prompter, "type Y for \"internal\" otherwise N for \"all-connected\" (custom operation mode enabled) [Y/n]: ")?;
    request.mode = Some(if internal { Mode::Internal } else { Mode::AllConnected });
    Ok(Asked { request, program, include_given, exclude_given })
}

/// Plans `asked` for this board and prints it as the reference does, per component.
fn planned(ctx: &Context, asked: &Asked, out: &mut dyn Write) -> Result<Vec<Planned>> {
    let max = ctx.board()?.capture_filter_max_insns;
    let plans = plan(&asked.request, &asked.program, max)?;
    for planned in &plans {
        match (asked.include_given, asked.request.include.len()) {
            (false, _) => emit(out, "No include file given")?,
            (true, n) => emit(out, &format!("Loaded {n} unique channels"))?,
        }
        if !asked.exclude_given {
            emit(out, "No exclude file given")?;
        }
        for line in planned.program.listing().lines() {
            emit(out, line)?;
        }
        emit(out, &debug_line(planned.component, &planned.expression))?;
    }
    Ok(plans)
}

/// Applies `asked`: all components or none, then the running ones reload.
pub fn run(ctx: &Context, asked: &Asked, out: &mut dyn Write) -> Result<Status> {
    let plans = planned(ctx, asked, out)?;
    let filters: Vec<(Component, String)> = plans.iter().map(|p| (p.component, p.expression.clone())).collect();
    apply(&ctx.root, &filters)?;
    let components: Vec<Component> = plans.iter().map(|p| p.component).collect();
    for (component, reloaded) in reload(ctx.board()?, &ctx.root, &components) {
        match reloaded {
            Reloaded::Signalled { .. } | Reloaded::NoService => {}
            Reloaded::NotRunning { service, reason } => emit(
                out,
                &format!("{}: {service} is not running ({reason}); it reads the new filter when it starts", component.name()),
            )?,
            Reloaded::Failed { service, reason } => {
                emit(out, &format!("{}: could not tell {service} to reload: {reason}", component.name()))?
            }
        }
    }
    Ok(Status::Ok)
}

/// `--test IFACE`: each distinct filter of `asked` attached to `interface` for `seconds`; how
/// much it matched and dropped. Nothing is written.
pub fn test(ctx: &Context, asked: &Asked, interface: &crate::validate::IfName, seconds: u32, out: &mut dyn Write) -> Result<Status> {
    interface.index()?;
    let plans = planned(ctx, asked, out)?;
    let mut tested: Vec<&str> = Vec::new();
    for planned in &plans {
        if tested.contains(&planned.expression.as_str()) {
            continue;
        }
        tested.push(&planned.expression);
        let cancel = ctx.cancel.clone();
        let count = test_on_wire(
            interface.as_str(),
            &planned.program,
            std::time::Duration::from_secs(u64::from(seconds)),
            &move || cancel.is_cancelled(),
        )?;
        let unit = if seconds == 1 { "second" } else { "seconds" };
        emit(
            out,
            &format!(
                "{} on {interface}: {} packets ({} bytes) matched, {} dropped in {seconds} {unit}",
                planned.component.name(),
                count.matched,
                count.bytes,
                count.dropped
            ),
        )?;
    }
    Ok(Status::Ok)
}

#[derive(SerJson)]
#[nserde(serialize_none_as_null)]
struct ShownFilter {
    component: String,
    file: String,
    expression: Option<String>,
}

/// `--show [--json]`: the filter each component has now.
pub fn show(ctx: &Context, json: bool, out: &mut dyn Write) -> Result<Status> {
    let stored = current(&ctx.root)?;
    if json {
        let list: Vec<ShownFilter> = stored
            .iter()
            .map(|s| ShownFilter {
                component: s.component.name().to_string(),
                file: s.path.display().to_string(),
                expression: s.expression.clone(),
            })
            .collect();
        emit(out, &list.serialize_json())?;
        return Ok(Status::Ok);
    }
    for s in &stored {
        let text = match &s.expression {
            Some(expression) if expression.is_empty() => "(everything)".to_string(),
            Some(expression) => format!("'{}'", crate::validate::system_text(expression.as_bytes())),
            None => "(not set)".to_string(),
        };
        emit(out, &format!("{}: {text}", s.component.name()))?;
    }
    Ok(Status::Ok)
}
