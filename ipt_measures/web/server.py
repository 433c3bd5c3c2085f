"""Running the self-completion page: uvicorn, TLS beyond loopback, finding a running server, the link's address."""

from __future__ import annotations

import ipaddress
import json
import os
import socket
import ssl
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any, Optional

from ..errors import UsageError

LOOPBACK_NAMES = {"localhost"}


def is_loopback(host: str) -> bool:
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def tls_files(host: str, cert: Optional[str], key: Optional[str], tls_dir: Optional[Path] = None) -> tuple:
    """(cert, key, generated) for a server on ``host``; (None, None, False) on loopback without --cert/--key.

    Beyond loopback (a tablet on the clinic's Wi-Fi) answers travel the network, so TLS is required: the
    given --cert/--key, else a self-signed certificate made on first use and kept in the data directory.
    """
    if bool(cert) != bool(key):
        raise UsageError("give --cert and --key together")
    if cert:
        return cert, key, False
    if is_loopback(host):
        return None, None, False
    from ..paths import data_dir

    directory = Path(tls_dir) if tls_dir else data_dir() / "tls"
    cert_path, key_path = directory / "ipt-serve-cert.pem", directory / "ipt-serve-key.pem"
    if cert_path.exists() and key_path.exists():
        return str(cert_path), str(key_path), False
    self_signed(cert_path, key_path)
    return str(cert_path), str(key_path), True


def self_signed(cert_path: Path, key_path: Path) -> None:
    """A self-signed certificate (ECDSA P-256, 825 days, this machine's names and addresses); key owner-only."""
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"ipt-measures on {socket.gethostname()}")])
    names: list[Any] = [x509.DNSName("localhost"), x509.DNSName(socket.gethostname()),
                        x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
    lan = lan_address()
    if lan and not is_loopback(lan):
        names.append(x509.IPAddress(ipaddress.ip_address(lan)))
    start = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(minutes=5)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(start)
            .not_valid_after(start + datetime.timedelta(days=825))  # the most browsers accept for a leaf
            .add_extension(x509.SubjectAlternativeName(names), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(key_path, os.O_CREAT | os.O_TRUNC | os.O_WRONLY, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption()))
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))


def fingerprint(cert_path: str) -> str:
    """SHA-256 fingerprint of a PEM certificate, as browsers show it (AB:CD:...)."""
    der = ssl.PEM_cert_to_DER_cert(Path(cert_path).read_text())
    import hashlib

    digest = hashlib.sha256(der).hexdigest().upper()
    return ":".join(digest[i:i + 2] for i in range(0, len(digest), 2))


def lan_address() -> Optional[str]:
    """This machine's address on the local network (a UDP socket is pointed outward; nothing is sent)."""
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.connect(("192.0.2.1", 9))  # TEST-NET-1 (RFC 5737): never routed anywhere real
            return s.getsockname()[0]
    except OSError:
        return None


def base_url(host: str, port: int, tls: bool) -> str:
    """Where a client's device reaches the server: a wildcard bind is announced on the LAN address."""
    shown = host
    if host in ("0.0.0.0", "::", ""):
        shown = lan_address() or "127.0.0.1"
    if ":" in shown:
        shown = f"[{shown}]"
    return f"{'https' if tls else 'http'}://{shown}:{port}"


def _probe_host(host: str) -> str:
    return "127.0.0.1" if host in ("0.0.0.0", "::", "") else host


def probe(host: str, port: int, db_path: Path) -> Optional[bool]:
    """Is an ``ipt serve`` for this record listening? Its TLS flag if so, None if nothing listens there.

    A server on that port for another record (or something else) is an error: the link would not work there.
    """
    from .app import record_fingerprint

    target = _probe_host(host)
    if ":" in target:
        target = f"[{target}]"
    unverified = ssl.create_default_context()
    unverified.check_hostname = False
    unverified.verify_mode = ssl.CERT_NONE  # only asking a local server which record it serves
    for tls in (False, True):
        url = f"{'https' if tls else 'http'}://{target}:{port}/healthz"
        try:
            with urllib.request.urlopen(url, timeout=2, context=unverified if tls else None) as response:
                data = json.loads(response.read())
        except (OSError, ValueError):
            continue
        if data.get("service") != "ipt-measures":
            break
        if data.get("record") != record_fingerprint(db_path):
            raise UsageError(f"the ipt serve on port {port} serves another record; stop it or use --port")
        return tls
    if port_in_use(host, port):
        raise UsageError(f"port {port} is in use by something other than ipt serve; choose another with --port")
    return None


def port_in_use(host: str, port: int) -> bool:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return True
    return False


def make_server(db_path: Path, host: str, port: int, cert: Optional[str] = None, key: Optional[str] = None) -> Any:
    """A uvicorn server for the page. Access logs stay off: a link's first request carries its token."""
    import uvicorn

    from .app import create_app

    if port and port_in_use(host, port):
        raise UsageError(f"port {port} on {host} is in use (is ipt serve already running?); choose another with --port")
    app = create_app(db_path, tls=bool(cert))
    config = uvicorn.Config(app, host=host, port=port, ssl_certfile=cert, ssl_keyfile=key, log_level="warning",
                            access_log=False, server_header=False, date_header=False, lifespan="off")
    return uvicorn.Server(config)


def start_in_thread(server: Any, timeout: float = 15.0) -> threading.Thread:
    """Run a uvicorn server in a daemon thread (for ``ipt handover``'s own lifetime); returns once it listens."""
    thread = threading.Thread(target=server.run, name="ipt-serve", daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise UsageError("the self-completion server did not start")
        time.sleep(0.02)
    return thread


def bound_port(server: Any) -> int:
    """The port a started server listens on (useful with --port 0)."""
    return server.servers[0].sockets[0].getsockname()[1]
