#!/usr/bin/env python3
"""Writes the deterministic backup benchmark data set under a root directory.

    bench_data.py ROOT [SCALE]

About 300 MB at SCALE 1.0, the same bytes on every run (seeded PRNG, fixed mtimes):
  var/cyberx/logs       ~170 MB of log-like text in 34 files (compressible)
  var/cyberx/baselines  ~80 MB of random bytes in 8 files (incompressible)
  var/cyberx/keys       20,000 small files of 0.5-4.5 KB in 200 directories (1 in 10 random)
  etc/sensorctl         a config file
"""
import os
import random
import sys

root = sys.argv[1]
scale = float(sys.argv[2]) if len(sys.argv) > 2 else 1.0
rng = random.Random(20221)
MTIME = 1_664_469_968

words = ["".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(2, 10))) for _ in range(800)]
# Word frequencies follow Zipf's law, as in real log messages.
cum_weights = []
acc = 0.0
for rank in range(len(words)):
    acc += 1.0 / (rank + 1)
    cum_weights.append(acc)
components = ["modbus", "s7comm", "dnp3", "bacnet", "opcua", "enip", "profinet", "iec104", "http", "dns",
              "arp", "lldp", "snmp", "ntp", "ssh", "smb", "core-api", "traffic-monitor", "web", "horizon"]
levels = ["INFO", "INFO", "INFO", "DEBUG", "WARN", "ERROR"]


def write(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)
    os.utime(path, (MTIME, MTIME))


def log_text(size):
    out = []
    total = 0
    t = 1_664_400_000.0
    while total < size:
        t += rng.random() * 0.05
        ip = f"10.0.{rng.randint(0, 3)}.{rng.randint(1, 60)}"
        msg = " ".join(rng.choices(words, cum_weights=cum_weights, k=rng.randint(4, 12)))
        line = (f"{t:.3f} {rng.choice(levels)} [{rng.choice(components)}] src={ip} "
                f"dst=10.0.0.{rng.randint(1, 20)}:{rng.choice((502, 102, 20000, 47808, 4840, 44818))} "
                f"{msg}\n")
        out.append(line)
        total += len(line)
    return "".join(out).encode()


write(f"{root}/etc/sensorctl/config.json", b'{"version": 1}\n')
for i in range(34):
    write(f"{root}/var/cyberx/logs/traffic-{i:02d}.log", log_text(int(5_000_000 * scale)))
for i in range(8):
    write(f"{root}/var/cyberx/baselines/baseline-{i:02d}.bin", rng.randbytes(int(10_000_000 * scale)))
files = int(20_000 * scale)
for i in range(files):
    size = rng.randint(500, 4500)
    if i % 10 == 0:
        data = rng.randbytes(size)
    else:
        data = log_text(size)[:size]
    write(f"{root}/var/cyberx/keys/d{i // 100:03d}/k{i:05d}", data)
for dirpath, dirnames, _ in os.walk(root, topdown=False):
    os.utime(dirpath, (MTIME, MTIME))
