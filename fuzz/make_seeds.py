#!/usr/bin/env python3
"""Makes the seed corpora of the fuzz targets in fuzz/seeds/<target>/ from real inputs.

Run from the repository root as root, after `cargo build`:  python3 fuzz/make_seeds.py
- board_json, config_json: the board files in board/ and a config like the tests write
- restore_extract, gzip_tar, backup_format: a real backup made by target/debug/sensorctl
- netlink: link, address and route dump replies of the kernel, read in a fresh network
  namespace with a veth pair, an address and a default route (`unshare -n`)
- sntp_reply: a reply from chronyd serving on a loopback address
- the others: a few typical lines
"""
import gzip, os, shutil, socket, struct, subprocess, sys, tempfile, time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SEEDS = os.path.join(REPO, "fuzz", "seeds")
BIN = os.path.join(REPO, "target", "debug", "sensorctl")
TRAILER_LEN = 10 + 5 + 4 * 512 + 8


def put(target, name, data):
    d = os.path.join(SEEDS, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())


def boards_and_config():
    for name in sorted(os.listdir(os.path.join(REPO, "board"))):
        with open(os.path.join(REPO, "board", name, "board.json"), "rb") as f:
            put("board_json", name, f.read())
    put("config_json", "ntp", '{"version":1,"ntp_servers":["192.0.2.1","192.0.2.2"],"ntp_poll_interval_s":64}\n')
    put("config_json", "full", '{"version":1,"board":"generic-x86","login_max_failed":5,"login_lockout_window_s":900,'
        '"shell_idle_timeout_s":300,"backup_dir":"/var/cyberx/backups",'
        '"bandwidth_limits":[{"interface":"eth0","limit":"30kbit"}]}\n')


def backup():
    root = tempfile.mkdtemp(prefix="sensorctl-seed-")
    try:
        w = lambda rel, text, mode=0o644: (os.makedirs(os.path.dirname(os.path.join(root, rel)), exist_ok=True),
                                           open(os.path.join(root, rel), "w").write(text),
                                           os.chmod(os.path.join(root, rel), mode))
        w("etc/passwd", "root:x:0:0:root:/root:/bin/sh\nsupport:x:1001:1001::/home/support:/usr/bin/sensorctl\n")
        w("etc/group", "root:x:0:\nsensorctl:x:990:support\n")
        w("etc/sensorctl/config.json", '{"version":1,"ntp_servers":["192.0.2.1"]}\n')
        w("var/cyberx/keys/a.key", "key material\n", 0o600)
        w("var/cyberx/keys/sub/b.pem", "pem\n")
        w("var/cyberx/logs/x.log", "log line\n")
        subprocess.run([BIN, "--root", root, "system", "backup"], check=True, stdout=subprocess.DEVNULL)
        d = os.path.join(root, "var/cyberx/backups")
        (name,) = os.listdir(d)
        data = open(os.path.join(d, name), "rb").read()
        body = data[:-TRAILER_LEN]
        put("backup_format", "real-backup", data)
        put("backup_format", "manifest-lines", gzip.decompress(body)[512:].split(b"\0")[0])
        put("gzip_tar", "real-backup-body", body)
        put("restore_extract", "real-backup-tar", gzip.decompress(body))
    finally:
        shutil.rmtree(root)


NETLINK_HELPER = r'''
import socket, struct, sys
s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 0)
s.bind((0, 0))
out = []
for seq, (msg_type, payload) in enumerate([(18, struct.pack("BxHiII", 0, 0, 0, 0, 0)),   # RTM_GETLINK
                                           (22, struct.pack("BBBBI", 0, 0, 0, 0, 0)),     # RTM_GETADDR
                                           (26, struct.pack("BBBBBBBBI", 2, 0, 0, 0, 0, 0, 0, 0, 0))], 1):  # RTM_GETROUTE v4
    s.send(struct.pack("IHHII", 16 + len(payload), msg_type, 0x301, seq, 0) + payload)
    while True:
        d = s.recv(65536)
        out.append((msg_type, d))
        if struct.unpack_from("H", d, 4)[0] == 3:  # NLMSG_DONE
            break
for msg_type, d in out:
    sys.stdout.buffer.write(struct.pack("HI", msg_type, len(d)) + d)
'''


def netlink():
    setup = ("ip link set lo up && ip link add seedA type veth peer name seedB && ip link set seedA up && "
             "ip link set seedB up && ip addr add 192.0.2.10/24 dev seedA && ip addr add 2001:db8::1/64 dev seedA && "
             "ip route add default via 192.0.2.1 && tc qdisc add dev seedA root tbf rate 1mbit burst 32k latency 400ms && "
             f"exec python3 -c '{NETLINK_HELPER}'")
    raw = subprocess.run(["unshare", "-n", "sh", "-c", setup], check=True, capture_output=True).stdout
    which = {18: 0, 22: 1, 26: 2}
    n = 0
    while raw:
        msg_type, length = struct.unpack_from("HI", raw)
        d = raw[8:8 + length]
        raw = raw[8 + length:]
        put("netlink", f"dump-{msg_type}-{n}", bytes([which[msg_type]]) + d)
        n += 1
    # An acknowledgement (NLMSG_ERROR with error 0) and a refusal (EEXIST), as tc changes get.
    ack = lambda err: struct.pack("IHHIIi", 36, 2, 0, 1, 0, err) + struct.pack("IHHII", 16, 36, 5, 1, 0)
    put("netlink", "ack", bytes([3]) + ack(0))
    put("netlink", "nack-eexist", bytes([3]) + ack(-17))


def sntp():
    addr = "127.77.%d.%d" % (os.getpid() % 250 + 1, 123)
    d = tempfile.mkdtemp(prefix="sensorctl-seed-chrony-")
    conf = os.path.join(d, "chrony.conf")
    open(conf, "w").write(f"local stratum 10\nallow 127.0.0.0/8\nbindaddress {addr}\nport 123\ncmdport 0\npidfile {d}/chronyd.pid\n")
    child = subprocess.Popen(["chronyd", "-d", "-x", "-u", "root", "-f", conf], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.settimeout(0.2)
        origin = struct.pack(">Q", (int(time.time()) + 2208988800) << 32 | 0x12345678)
        for _ in range(50):
            s.sendto(bytes([0x23]) + bytes(39) + origin, (addr, 123))
            try:
                reply = s.recv(1024)
                break
            except socket.timeout:
                continue
        else:
            sys.exit("chronyd did not answer")
        put("sntp_reply", "chronyd-reply", reply)
    finally:
        child.terminate()
        child.wait()
        shutil.rmtree(d)


def lines():
    for n, line in enumerate(["system ntp enable 192.0.2.1", "network limit --interface eth0 --limit 30kbit",
                              "system password 'support'", 'ping "192.0.2.1"', "\thelp  system\t"]):
        put("shell_line", f"line{n}", line)
    for n, text in enumerate(["support", "eth0", "192.0.2.1", "255.255.255.0", "30kbit", "local_listener",
                              "/var/cyberx/backups", "host-1-backup-version-22.3.0-2024-01-01_00:00:00.tar",
                              "a\x1bb", "vm-1795630560590-backup-version-0.1.0-15af7c9-2026-11-25_18:16:00.tar"]):
        put("validate", f"v{n}", bytes([n]) + text.encode())
    for n, action in enumerate(['{"Version":{"json":false}}', '{"NtpEnable":{"server":"192.0.2.1"}}',
                                '{"NetworkReconfigure":{"interface":"eth0","ip":"192.0.2.10","subnet":"255.255.255.0",'
                                '"gateway":"192.0.2.1","dns":["192.0.2.53"],"monitors":null,"erspan":null,'
                                '"backup_dir":null,"yes":true}}',
                                '{"NetworkLimit":{"interface":"eth0","limit":"30kbit","clear":false}}',
                                '{"BackupRestore":{"file":"x.tar","yes":true,"force":false}}',
                                '{"PasswordReset":{"user":"support","password":"Secret123!","password_stdin":false,'
                                '"legacy_alias":true}}', '{"Reboot":{}}']):
        put("daemon_request", f"request{n}", '{"id":%d,"action":%s}' % (n, action))
    put("daemon_request", "answer", '{"id":7,"text":"yes","eof":false}')
    put("daemon_request", "reply", '{"Done":{"id":7,"exit":0,"error":""}}')
    put("passwd_shadow", "shadow", b"\x00root:*:19000:0:99999:7:::\nsupport:$6$saltsalt$" + b"a" * 86 + b":19000:0:99999:7:::\n")
    put("passwd_shadow", "passwd", b"\x01root:x:0:0:root:/root:/bin/sh\nsupport:x:1:1001::/home/support:/usr/bin/sensorctl\n")
    put("passwd_shadow", "group", b"\x02root:x:0:\nsensorctl:x:990:support,cyberx\n")


if __name__ == "__main__":
    boards_and_config()
    backup()
    netlink()
    sntp()
    lines()
