"""The gateway's HTTP/1.1 client against a scripted socket server: keep-alive reuse, chunked
bodies piece by piece, timeouts, and connections that must not be reused."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import pytest

from services.gateway.adapters.http1 import Pool

Script = Callable[[int, bytes], list[bytes] | None]  # (connection no., request) -> what to send; None: close


@pytest.fixture
async def server() -> AsyncIterator[Callable[[Script], asyncio.Future[str]]]:
    servers: list[asyncio.Server] = []

    async def start(script: Script) -> str:
        connections = 0

        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            nonlocal connections
            connections += 1
            me = connections
            try:
                while True:
                    head = await reader.readuntil(b"\r\n\r\n")
                    length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
                    request = head + await reader.readexactly(length)
                    parts = script(me, request)
                    if parts is None:
                        break
                    for part in parts:
                        writer.write(part)
                        await writer.drain()
                        await asyncio.sleep(0.01)
            except (asyncio.IncompleteReadError, ConnectionError):
                pass
            writer.close()

        srv = await asyncio.start_server(handle, "127.0.0.1", 0)
        servers.append(srv)
        return f"http://127.0.0.1:{srv.sockets[0].getsockname()[1]}"

    yield start  # type: ignore[misc]
    for srv in servers:
        srv.close()


def ok(body: bytes, *extra: str) -> list[bytes]:
    head = "".join(f"{h}\r\n" for h in extra)
    return [f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n{head}Content-Length: {len(body)}\r\n\r\n".encode()
            + body]


async def test_a_connection_is_reused_and_the_request_goes_whole(server):
    seen: list[tuple[int, bytes]] = []

    def script(conn: int, request: bytes) -> list[bytes]:
        seen.append((conn, request))
        return ok(b'{"n": %d}' % len(seen))

    pool = Pool(await server(script), connect_timeout_s=2)
    for i in range(3):
        resp = await pool.request("/v1/chat/completions", b'{"a": 1}', {"x-request-id": f"r{i}"}, 5, stream=False)
        assert (resp.status, await resp.read()) == (200, b'{"n": %d}' % (i + 1))
        resp.release()
    assert [c for c, _ in seen] == [1, 1, 1]
    assert seen[0][1].startswith(b"POST /v1/chat/completions HTTP/1.1\r\n")
    assert b"x-request-id: r0\r\n" in seen[0][1] and seen[0][1].endswith(b'\r\n\r\n{"a": 1}')
    pool.close()


async def test_a_chunked_stream_arrives_piece_by_piece(server):
    def script(conn: int, request: bytes) -> list[bytes]:
        return [b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n",
                b"6\r\ndata: \r\n", b"3\r\none\r\n", b"0\r\n\r\n"]

    pool = Pool(await server(script), connect_timeout_s=2)
    resp = await pool.request("/v1/completions", b"{}", {}, 5, stream=True)
    pieces = []
    while piece := await resp.readany():
        pieces.append(piece)
    resp.release()
    assert pieces == [b"data: ", b"one"] and resp.headers["content-type"] == "text/event-stream"
    assert len(pool.idle) == 1  # read to its end: reusable
    resp.release()  # again: the connection is not given back twice
    assert len(pool.idle) == 1
    pool.close()


async def test_a_silent_upstream_times_out_and_its_connection_is_dropped(server):
    pool = Pool(await server(lambda conn, request: [b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhalf"]),
                connect_timeout_s=2)
    resp = await pool.request("/v1/completions", b"{}", {}, 0.3, stream=False)
    with pytest.raises(TimeoutError):
        await resp.read()
    resp.release()
    assert pool.idle == []


async def test_a_stale_connection_is_retried_once_and_connection_close_is_honoured(server):
    calls: list[int] = []

    def script(conn: int, request: bytes) -> list[bytes] | None:
        calls.append(conn)
        if conn == 1:  # keeps its first connection alive, then drops it while it is idle
            return ok(b"{}") if calls.count(1) == 1 else None
        return ok(b"{}", "Connection: close") if conn == 2 else ok(b"{}")

    pool = Pool(await server(script), connect_timeout_s=2)
    for expected_idle in (1, 0, 1):
        resp = await pool.request("/v1/completions", b"{}", {}, 5, stream=False)
        assert await resp.read() == b"{}"
        resp.release()
        assert len(pool.idle) == expected_idle
    assert calls == [1, 1, 2, 3]
    pool.close()


async def test_a_refused_connection_and_a_header_with_a_line_break_raise(server):
    pool = Pool("http://127.0.0.1:9", connect_timeout_s=2)
    with pytest.raises(OSError):
        await pool.request("/v1/completions", b"{}", {}, 5, stream=False)
    with pytest.raises(ValueError):
        await pool.request("/v1/completions", b"{}", {"x-request-id": "a\r\nevil: 1"}, 5, stream=False)


def _self_signed(tmp_path) -> tuple[str, str]:
    """A certificate for 127.0.0.1 made with `cryptography` (no files from outside)."""
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now)
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .sign(key, hashes.SHA256()))
    cert_file, key_file = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return str(cert_file), str(key_file)


async def test_https_upstreams_are_spoken_to_over_tls_and_verified(tmp_path):
    import ssl

    cert, key = _self_signed(tmp_path)
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ctx.load_cert_chain(cert, key)

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        await reader.readexactly(int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0]))
        writer.write(ok(b'{"tls": true}')[0])
        await writer.drain()
        writer.close()

    srv = await asyncio.start_server(handle, "127.0.0.1", 0, ssl=server_ctx)
    url = f"https://127.0.0.1:{srv.sockets[0].getsockname()[1]}"
    try:
        untrusted = Pool(url, connect_timeout_s=2)
        with pytest.raises(ssl.SSLCertVerificationError):  # the system's CAs do not know this one
            await untrusted.request("/v1/completions", b"{}", {}, 5, stream=False)
        pool = Pool(url, connect_timeout_s=2)
        assert pool.tls is not None
        pool.tls.load_verify_locations(cert)
        resp = await pool.request("/v1/completions", b"{}", {}, 5, stream=False)
        assert (resp.status, await resp.read()) == (200, b'{"tls": true}')
        resp.release()
    finally:
        srv.close()
