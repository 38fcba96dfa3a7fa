#!/usr/bin/env python3
"""Makes the seed corpora of the fuzz targets in fuzz/seeds/<target>/ from real inputs.

Run from the repository root as root, after `cargo build`:  python3 fuzz/make_seeds.py
- board_json, config_json: the board files in board/ and a config like the tests write
- restore_extract, gzip_tar, backup_format: a real backup made by target/debug/sensorctl
- inflate: raw deflate streams of a log-like text by zlib, one per strategy (stored, fixed,
  dynamic, Huffman only, RLE), each after the byte that sets the fuzzer's input piece size
- netlink: link, address and route dump replies of the kernel, read in a fresh network
  namespace with a veth pair, an address and a default route (`unshare -n`)
- sntp_reply: a reply from chronyd serving on a loopback address
- cert_import: certificates, keys (PKCS#8, PKCS#1, SEC1, encrypted PKCS#8; PEM and DER) and
  chains made by openssl, valid for ten years from the day they are made
- upgrade_package: a package made by `sensorctl package build` (target/debug/sensorctl), raw,
  to be re-signed, and split into the manifest and entries the target builds packages from
- the others: a few typical lines

`python3 fuzz/make_seeds.py cert_import upgrade_package` remakes only those targets' seeds.
"""
import gzip, os, shutil, socket, struct, subprocess, sys, tempfile, time, zlib

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


def inflate():
    text = b"".join(b"2026-11-26T06:%02d:%02d sensor eth%d modbus read ok value=%d\n" % (i // 60, i % 60, i % 3, i * 7 % 101)
                    for i in range(300))
    for name, level, strategy in [("stored", 0, 0), ("fixed", 6, zlib.Z_FIXED), ("dynamic", 6, 0),
                                  ("huffman-only", 6, zlib.Z_HUFFMAN_ONLY), ("rle", 6, zlib.Z_RLE)]:
        c = zlib.compressobj(level, zlib.DEFLATED, -15, 8, strategy)
        put("inflate", name, bytes([len(name)]) + c.compress(text) + c.flush())


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


def capture_filter():
    expressions = ["tcp port 502", "host 10.0.0.1", "not net 192.168.0.0/16", "vlan 10 and tcp port 502",
                   "(((not (net 192.168.1))) and (not (tcp port 9000))) or (vlan and ((not (net 192.168.1))) and "
                   "(not (tcp port 9000)))", "src or dst portrange 100-200 && !arp || icmp", "net 10 or 10.1",
                   "vlan and vlan 5 and ip6", "port 0x1f6 or 0766", "net 172.16.0.0 mask 255.240.0.0"]
    for n, text in enumerate(expressions):
        put("capture_filter", f"expr{n}", bytes([n]) + text.encode())
    put("capture_filter", "include", b"\x80" + b"10.0.0.5\n192.168.1\n1.1.1.1,2.2.2.2\n1.1.1,2.2.2\n")
    put("capture_filter", "exclude", b"\x81" + b"# comment\n10.0.0.5,10.0.0.9,443\n\n5.5.5\n")


CERT_SEPARATOR = b"\n=====\n"


def openssl(*args):
    subprocess.run(["openssl", *args], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def cert_import():
    """Seeds: a flags byte (bit 0: give the passphrase fuzzpass1), then certificate, key and
    optionally chain files, separated by CERT_SEPARATOR (see fuzz_targets/cert_import.rs)."""
    d = tempfile.mkdtemp(prefix="sensorctl-seed-")
    try:
        p = lambda name: os.path.join(d, name)
        r = lambda name: open(p(name), "rb").read()
        openssl("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", p("ec.sec1"))
        openssl("pkcs8", "-topk8", "-nocrypt", "-in", p("ec.sec1"), "-out", p("ec.p8"))
        openssl("ec", "-in", p("ec.sec1"), "-outform", "DER", "-out", p("ec.sec1.der"))
        openssl("pkcs8", "-topk8", "-nocrypt", "-in", p("ec.sec1"), "-outform", "DER", "-out", p("ec.p8.der"))
        openssl("pkcs8", "-topk8", "-v2", "aes-256-cbc", "-iter", "1000", "-passout", "pass:fuzzpass1",
                "-in", p("ec.sec1"), "-out", p("ec.enc"))
        openssl("req", "-x509", "-key", p("ec.sec1"), "-subj", "/CN=sensor.example", "-days", "3650",
                "-addext", "subjectAltName=DNS:sensor.example,DNS:*.example.org,IP:192.0.2.7", "-out", p("ec.crt"))
        openssl("x509", "-in", p("ec.crt"), "-outform", "DER", "-out", p("ec.der"))
        openssl("genrsa", "-traditional", "-out", p("rsa.p1"), "2048")
        openssl("pkcs8", "-topk8", "-nocrypt", "-in", p("rsa.p1"), "-outform", "DER", "-out", p("rsa.p8.der"))
        openssl("req", "-x509", "-key", p("rsa.p1"), "-subj", "/CN=rsa.example", "-days", "3650", "-out", p("rsa.crt"))
        openssl("ecparam", "-name", "secp384r1", "-genkey", "-noout", "-out", p("p384.sec1"))
        openssl("req", "-x509", "-key", p("p384.sec1"), "-subj", "/CN=192.0.2.8", "-days", "3650", "-out", p("p384.crt"))
        # A chain: root CA -> intermediate CA -> leaf.
        openssl("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", p("root.key"))
        openssl("req", "-x509", "-key", p("root.key"), "-subj", "/CN=Fuzz Root CA", "-days", "3650",
                "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign", "-out", p("root.crt"))
        openssl("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", p("mid.key"))
        openssl("req", "-new", "-key", p("mid.key"), "-subj", "/CN=Fuzz Intermediate CA", "-out", p("mid.csr"))
        open(p("mid.ext"), "w").write("basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign\n")
        openssl("x509", "-req", "-in", p("mid.csr"), "-CA", p("root.crt"), "-CAkey", p("root.key"), "-set_serial", "2",
                "-days", "3650", "-extfile", p("mid.ext"), "-out", p("mid.crt"))
        openssl("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", p("leaf.key"))
        openssl("req", "-new", "-key", p("leaf.key"), "-subj", "/CN=leaf.example", "-out", p("leaf.csr"))
        open(p("leaf.ext"), "w").write("subjectAltName=DNS:leaf.example\nextendedKeyUsage=serverAuth\n")
        openssl("x509", "-req", "-in", p("leaf.csr"), "-CA", p("mid.crt"), "-CAkey", p("mid.key"), "-set_serial", "3",
                "-days", "3650", "-extfile", p("leaf.ext"), "-out", p("leaf.crt"))
        fixture = lambda name: open(os.path.join(REPO, "fuzz", "fixtures", name), "rb").read()
        seed = lambda flags, *parts: bytes([flags]) + CERT_SEPARATOR.join(parts)
        put("cert_import", "ec-pem-sec1", seed(0, r("ec.crt"), r("ec.sec1")))
        put("cert_import", "ec-pem-pkcs8", seed(0, r("ec.crt"), r("ec.p8")))
        put("cert_import", "ec-der-sec1", seed(0, r("ec.der"), r("ec.sec1.der")))
        put("cert_import", "ec-der-pkcs8", seed(0, r("ec.der"), r("ec.p8.der")))
        put("cert_import", "ec-encrypted", seed(1, r("ec.crt"), r("ec.enc")))
        put("cert_import", "rsa-pkcs1", seed(0, r("rsa.crt"), r("rsa.p1")))
        put("cert_import", "rsa-pkcs8-der", seed(0, r("rsa.crt"), r("rsa.p8.der")))
        put("cert_import", "p384-cn-ip", seed(0, r("p384.crt"), r("p384.sec1")))
        put("cert_import", "mismatch", seed(0, r("rsa.crt"), r("ec.sec1")))
        put("cert_import", "chain", seed(0, r("leaf.crt"), r("leaf.key"), r("mid.crt") + r("root.crt")))
        put("cert_import", "chain-no-root", seed(0, r("leaf.crt"), r("leaf.key"), r("mid.crt")))
        put("cert_import", "fixture", seed(0, fixture("fixed-ec.crt"), fixture("fixed-ec.key")))
        put("cert_import", "fixture-cert-other-key", seed(0, fixture("fixed-ec.crt"), r("ec.p8")))
    finally:
        shutil.rmtree(d)


def upgrade_package():
    """Seeds: mode byte 0 (as is), 1 (re-signed) and 2 (built from manifest and entries); see
    fuzz_targets/upgrade_package.rs."""
    import tarfile
    d = tempfile.mkdtemp(prefix="sensorctl-seed-")
    try:
        payload = os.path.join(d, "payload")
        os.makedirs(os.path.join(payload, "bin"))
        os.makedirs(os.path.join(payload, "etc", "conf.d"))
        for rel, data, mode in [("bin/app", b"#!/bin/sh\necho 1.1.0\n", 0o755), ("etc/conf.d/a.conf", b"a=1\n", 0o644),
                                ("etc/secret", b"s3cret\n", 0o600), ("README", b"", 0o644)]:
            with open(os.path.join(payload, rel), "wb") as f:
                f.write(data)
            os.chmod(os.path.join(payload, rel), mode)
        subprocess.run([BIN, "package", "keygen", "-o", os.path.join(d, "vendor")], check=True, stdout=subprocess.DEVNULL)
        pkg = os.path.join(d, "pkg")
        subprocess.run([BIN, "package", "build", "--key", os.path.join(d, "vendor.key"), "--version", "1.1.0",
                        "--board", "generic-x86", "--min-version", "1.0", "-o", pkg, payload],
                       check=True, stdout=subprocess.DEVNULL)
        data = open(pkg, "rb").read()
        put("upgrade_package", "as-is", b"\0" + data)
        put("upgrade_package", "re-signed", b"\1" + data)
        parts = []
        with tarfile.open(pkg) as tar:
            for info in tar.getmembers():
                body = tar.extractfile(info).read() if info.isfile() else b""
                if info.name == "manifest.json":
                    parts.insert(0, body)
                elif info.name != "manifest.sig":
                    kind = 1 if info.isdir() else 0
                    parts.append(info.name.encode() + b"\0" + bytes([kind]) + struct.pack("<H", info.mode) + body)
        put("upgrade_package", "built", b"\2" + CERT_SEPARATOR.join(parts))
    finally:
        shutil.rmtree(d)


if __name__ == "__main__":
    steps = {"board_json": boards_and_config, "backup": backup, "netlink": netlink, "sntp": sntp, "lines": lines,
             "cert_import": cert_import, "upgrade_package": upgrade_package, "inflate": inflate,
             "capture_filter": capture_filter}
    for name in sys.argv[1:] or steps:
        steps[name]()
