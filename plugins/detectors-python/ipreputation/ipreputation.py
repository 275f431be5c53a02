"""gavel's IP reputation detector, in Python: the proof that a detector can be
written in any language that speaks gRPC.

It speaks hashicorp/go-plugin's gRPC protocol by hand (see plugins/PROTOCOL.md):
checks the magic cookie, serves TLS that requires the host's one-time client
certificate (AutoMTLS), registers grpc.health.v1 ("plugin" = SERVING), the
gavel.detector.v1.DetectorService and plugin.GRPCController, prints the
handshake line and exits when the host stops it or dies.

Rules, first match wins:
  1. the address is in a range of the bad-ranges file (bad_ranges.txt, or the
     file named by the detector's `bad_ranges` env setting): the file's category
     and score;
  2. the address is not globally routable (private, loopback, link-local,
     documentation, carrier-grade NAT, multicast, reserved): a client never
     connects from one, so a proxy is misconfigured or the field is forged;
  3. otherwise "public", score 0: checked, nothing known.

Signal: ip.reputation (the enforcement policy does not read it yet; reviewers
see it). Only Debian's python3-grpcio, python3-protobuf and
python3-cryptography are needed: the protobuf messages come from
detector.binpb, a FileDescriptorSet that `buf build` writes from
proto/gavel/detector/v1/detector.proto (`make generate`), loaded at run time,
so no protoc or grpc_tools is involved.
"""

import base64
import datetime
import ipaddress
import os
import sys
import threading
import time
from concurrent import futures

import grpc
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from google.protobuf import descriptor_pb2, descriptor_pool
# The well-known types detector.proto imports must be in the pool first.
from google.protobuf import duration_pb2, struct_pb2, timestamp_pb2  # noqa: F401

NAME = "ipreputation"
VERSION = "1.0.0"
SIGNAL = "ip.reputation"
COOKIE_KEY = "GAVEL_DETECTOR_PLUGIN"
COOKIE_VALUE = "6f1c2e0b9a7d4e58b3c1a2f0d9e8c7b6"
APP_PROTOCOL_VERSION = 1
HERE = os.path.dirname(os.path.abspath(__file__))


def log(level, msg, **fields):
    """One hclog-style JSON line on stderr; the host re-emits it with the
    detector's name and level. stdout is reserved for the handshake."""
    import json
    line = {"@level": level, "@message": msg, "@module": NAME,
            "@timestamp": datetime.datetime.now(datetime.timezone.utc).isoformat()}
    line.update(fields)
    print(json.dumps(line), file=sys.stderr, flush=True)


# ---- protobuf messages, from the committed descriptor set ----

def _message_class(pool, full_name):
    desc = pool.FindMessageTypeByName(full_name)
    try:
        from google.protobuf import message_factory
        if hasattr(message_factory, "GetMessageClass"):
            return message_factory.GetMessageClass(desc)
        return message_factory.MessageFactory(pool).GetPrototype(desc)
    except ImportError:  # pragma: no cover
        raise


def _health_file():
    """grpc.health.v1's two messages, built here rather than depending on the
    grpcio-health-checking package, which Debian does not ship."""
    f = descriptor_pb2.FileDescriptorProto(name="gavel_ipreputation/grpc_health_v1.proto",
                                           package="grpc.health.v1", syntax="proto3")
    req = f.message_type.add(name="HealthCheckRequest")
    req.field.add(name="service", number=1, type=descriptor_pb2.FieldDescriptorProto.TYPE_STRING,
                  label=descriptor_pb2.FieldDescriptorProto.LABEL_OPTIONAL)
    resp = f.message_type.add(name="HealthCheckResponse")
    enum = resp.enum_type.add(name="ServingStatus")
    for i, n in enumerate(["UNKNOWN", "SERVING", "NOT_SERVING", "SERVICE_UNKNOWN"]):
        enum.value.add(name=n, number=i)
    resp.field.add(name="status", number=1, type=descriptor_pb2.FieldDescriptorProto.TYPE_ENUM,
                   type_name=".grpc.health.v1.HealthCheckResponse.ServingStatus",
                   label=descriptor_pb2.FieldDescriptorProto.LABEL_OPTIONAL)
    return f


def load_messages(binpb=os.path.join(HERE, "detector.binpb")):
    pool = descriptor_pool.Default()
    fds = descriptor_pb2.FileDescriptorSet()
    with open(binpb, "rb") as fh:
        fds.ParseFromString(fh.read())
    for f in list(fds.file) + [_health_file()]:
        try:
            pool.FindFileByName(f.name)
        except KeyError:
            pool.Add(f)
    names = ["gavel.detector.v1." + n for n in
             ("DescribeRequest", "DescribeResponse", "DetectRequest", "DetectResponse", "Signal")]
    names += ["grpc.health.v1.HealthCheckRequest", "grpc.health.v1.HealthCheckResponse"]
    return {n.rsplit(".", 1)[1]: _message_class(pool, n) for n in names}


# ---- the rules ----

# Ranges that are not globally routable, by the name the signal reports.
# Documentation first: those are also "private" to the ipaddress module.
SPECIAL = [
    ("documentation", ["192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24", "2001:db8::/32"]),
    ("loopback", ["127.0.0.0/8", "::1/128"]),
    ("private", ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7"]),
    ("carrier_grade_nat", ["100.64.0.0/10"]),
    ("link_local", ["169.254.0.0/16", "fe80::/10"]),
    ("multicast", ["224.0.0.0/4", "ff00::/8"]),
    ("unspecified", ["0.0.0.0/8", "::/128"]),
    ("reserved", ["240.0.0.0/4", "192.0.0.0/24", "198.18.0.0/15"]),
]
SPECIAL_SCORE = 0.5


def parse_ranges(text, source="bad_ranges.txt"):
    """Parses `CIDR CATEGORY SCORE  # comment` lines; errors name the line."""
    out = []
    for i, raw in enumerate(text.splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        parts = line.split()
        if len(parts) != 3:
            raise ValueError(f"{source}:{i}: want CIDR CATEGORY SCORE, got {raw!r}")
        try:
            net = ipaddress.ip_network(parts[0], strict=False)
            score = float(parts[2])
        except ValueError as e:
            raise ValueError(f"{source}:{i}: {e}") from None
        if not 0 <= score <= 1:
            raise ValueError(f"{source}:{i}: score {score} is outside 0..1")
        out.append((net, parts[1], score))
    # Most specific first, so a /32 exception beats its /16.
    out.sort(key=lambda r: -r[0].prefixlen)
    return out


class Reputation:
    def __init__(self, bad_ranges):
        self.bad = bad_ranges
        self.special = [(ipaddress.ip_network(c), name) for name, cidrs in SPECIAL for c in cidrs]

    def judge(self, ip):
        """Returns (score, value, evidence) for an address string, or None
        when there is no address to judge."""
        ip = (ip or "").strip()
        if not ip:
            return None
        try:
            addr = ipaddress.ip_address(ip)
        except ValueError:
            return 0.3, "invalid", {"ip": ip[:64], "reason": "not an IP address"}
        if addr.version == 6 and addr.ipv4_mapped:
            addr = addr.ipv4_mapped
        for net, category, score in self.bad:
            if addr.version == net.version and addr in net:
                return score, category, {"ip": str(addr), "range": str(net), "list": "bad_ranges"}
        for net, name in self.special:
            if addr.version == net.version and addr in net:
                return SPECIAL_SCORE, name, {"ip": str(addr), "range": str(net), "list": "special_purpose"}
        return 0.0, "public", {"ip": str(addr)}


# ---- gRPC services ----

def _unary(fn, req_cls, resp_cls):
    return grpc.unary_unary_rpc_method_handler(
        fn, request_deserializer=req_cls.FromString, response_serializer=resp_cls.SerializeToString)


class Detector:
    def __init__(self, msgs, reputation):
        self.m = msgs
        self.rep = reputation

    def describe(self, _request, _context):
        resp = self.m["DescribeResponse"](name=NAME, version=VERSION, signals=[SIGNAL])
        resp.latency_budget.FromMilliseconds(20)
        return resp

    def detect(self, request, _context):
        resp = self.m["DetectResponse"]()
        judged = self.rep.judge(request.context.ip)
        if judged is not None:
            score, value, evidence = judged
            s = resp.signals.add(name=SIGNAL, score=score, value=value, confidence=0.8)
            s.evidence.update(evidence)
        return resp

    def handler(self):
        return grpc.method_handlers_generic_handler("gavel.detector.v1.DetectorService", {
            "Describe": _unary(self.describe, self.m["DescribeRequest"], self.m["DescribeResponse"]),
            "Detect": _unary(self.detect, self.m["DetectRequest"], self.m["DetectResponse"]),
        })


def health_handler(msgs):
    req_cls, resp_cls = msgs["HealthCheckRequest"], msgs["HealthCheckResponse"]

    def check(request, context):
        if request.service not in ("", "plugin"):
            context.abort(grpc.StatusCode.NOT_FOUND, "unknown service")
        return resp_cls(status=1)  # SERVING

    return grpc.method_handlers_generic_handler("grpc.health.v1.Health", {
        "Check": _unary(check, req_cls, resp_cls),
    })


def controller_handler(stop):
    """plugin.GRPCController/Shutdown(Empty) returns (Empty); Empty is zero
    bytes on the wire, so no message class is needed."""
    def shutdown(_request, _context):
        threading.Thread(target=stop, daemon=True).start()
        return b""

    return grpc.method_handlers_generic_handler("plugin.GRPCController", {
        "Shutdown": grpc.unary_unary_rpc_method_handler(
            shutdown, request_deserializer=lambda b: b, response_serializer=lambda b: b),
    })


# ---- AutoMTLS ----

def self_signed():
    """A fresh P-521 key and a self-signed certificate for "localhost", as
    go-plugin makes its own. Returns (key PEM, cert PEM, cert DER)."""
    key = ec.generate_private_key(ec.SECP521R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost"),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, "gavel")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder()
            .subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(seconds=30))
            .not_valid_after(now + datetime.timedelta(days=365))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, key_encipherment=True, key_agreement=True,
                                         key_cert_sign=True, content_commitment=False, data_encipherment=False,
                                         crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH,
                                                  ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
            .sign(key, hashes.SHA256()))
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                                serialization.NoEncryption())
    return key_pem, cert.public_bytes(serialization.Encoding.PEM), cert.public_bytes(serialization.Encoding.DER)


def bind(server, creds):
    """Binds a port in PLUGIN_MIN_PORT..PLUGIN_MAX_PORT on 127.0.0.1."""
    lo = int(os.environ.get("PLUGIN_MIN_PORT", "10000"))
    hi = int(os.environ.get("PLUGIN_MAX_PORT", "25000"))
    start = lo + (os.getpid() * 7919) % max(hi - lo + 1, 1)
    for i in range(min(hi - lo + 1, 200)):
        port = lo + (start - lo + i) % (hi - lo + 1)
        addr = f"127.0.0.1:{port}"
        try:
            got = server.add_secure_port(addr, creds) if creds else server.add_insecure_port(addr)
        except RuntimeError:
            got = 0
        if got:
            return port
    raise RuntimeError(f"no free port in {lo}..{hi}")


def watch_parent(ppid, stop, every=1.0):
    """Exits when the host that started us dies (we are re-parented)."""
    while True:
        time.sleep(every)
        if os.getppid() != ppid:
            log("error", "gavel host died; exiting", host_pid=ppid)
            stop()
            return


def main():
    if os.environ.get(COOKIE_KEY) != COOKIE_VALUE:
        print("This is a gavel detector plugin: gavel starts it (see plugins/PROTOCOL.md). "
              "It is not meant to be run by hand.", file=sys.stderr)
        return 1
    versions = os.environ.get("PLUGIN_PROTOCOL_VERSIONS", str(APP_PROTOCOL_VERSION)).split(",")
    if str(APP_PROTOCOL_VERSION) not in versions:
        log("error", "host speaks no protocol version this detector knows", host_versions=versions)
        return 1

    ranges_path = os.environ.get("GAVEL_DETECTOR_BAD_RANGES", os.path.join(HERE, "bad_ranges.txt"))
    try:
        with open(ranges_path, encoding="utf-8") as fh:
            bad = parse_ranges(fh.read(), ranges_path)
        msgs = load_messages()
    except (OSError, ValueError) as e:
        log("error", "cannot start", error=str(e))
        return 1

    done = threading.Event()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=8))

    def stop():
        server.stop(grace=1)
        done.set()

    server.add_generic_rpc_handlers((
        Detector(msgs, Reputation(bad)).handler(),
        health_handler(msgs),
        controller_handler(stop),
    ))
    client_cert = os.environ.get("PLUGIN_CLIENT_CERT", "")
    cert_field = ""
    creds = None
    if client_cert:
        key_pem, cert_pem, cert_der = self_signed()
        creds = grpc.ssl_server_credentials([(key_pem, cert_pem)], root_certificates=client_cert.encode(),
                                            require_client_auth=True)
        cert_field = "|" + base64.b64encode(cert_der).decode().rstrip("=")
    port = bind(server, creds)
    server.start()
    sys.stdout.write(f"1|{APP_PROTOCOL_VERSION}|tcp|127.0.0.1:{port}|grpc{cert_field}\n")
    sys.stdout.flush()
    log("info", "serving", port=port, bad_ranges=len(bad), mtls=bool(creds))

    threading.Thread(target=watch_parent, args=(os.getppid(), stop), daemon=True).start()
    # stdin is the host's own stdin under go-plugin (often /dev/null), so its
    # end says nothing about the host: the parent watch and PR_SET_PDEATHSIG
    # are what end us, besides Shutdown.
    done.wait()
    return 0
