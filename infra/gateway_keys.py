"""Generate API keys for the gateway: `python infra/gateway_keys.py [--env | --k8s] CLIENT...`.

The plain keys are printed once, on stderr: hand each to its client. Stdout carries what the
services need: the gateway, only the SHA-256 digests named by client; the evaluator and the
loadtester, which call the gateway themselves for Staging (the deployer points them at
CHALLENGER_GATEWAY_API_KEY), the plain key of one more client, INTERNAL, generated here:
  --env (default)  a compose env file:  python infra/gateway_keys.py --env team-a > gateway.env
  --k8s            the Secret infra/k8s/challenger.yaml requires:
                   python infra/gateway_keys.py --k8s team-a | kubectl apply -f -
"""

from __future__ import annotations

import argparse
import hashlib
import re
import secrets
import sys

import yaml

SECRET_NAME = "challenger-gateway-keys"
SECRET_KEY = "api-key-hashes"
SECRET_INTERNAL_KEY = "internal-key"
INTERNAL = "challenger-staging"
NAMESPACE = "challenger"
CLIENT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


def new_key() -> str:
    return "sk-chg-" + secrets.token_urlsafe(32)


def hashes_setting(keys: dict[str, str]) -> str:
    """CHALLENGER_GATEWAY_API_KEY_HASHES for {client: plain key}."""
    return ",".join(f"{client}:{hashlib.sha256(key.encode()).hexdigest()}" for client, key in keys.items())


def env_file(keys: dict[str, str]) -> str:
    return (f"CHALLENGER_GATEWAY_API_KEY_HASHES={hashes_setting(keys)}\n"
            f"CHALLENGER_GATEWAY_API_KEY={keys[INTERNAL]}\n")


def k8s_secret(keys: dict[str, str]) -> str:
    return yaml.safe_dump({"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
                           "metadata": {"name": SECRET_NAME, "namespace": NAMESPACE},
                           "stringData": {SECRET_KEY: hashes_setting(keys), SECRET_INTERNAL_KEY: keys[INTERNAL]}},
                          sort_keys=False)


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    out = p.add_mutually_exclusive_group()
    out.add_argument("--env", action="store_true", help="a compose env file (the default)")
    out.add_argument("--k8s", action="store_true", help="a Kubernetes Secret manifest")
    p.add_argument("clients", nargs="+", help="one name per client (letters, digits, . _ -)")
    args = p.parse_args(argv)
    bad = [c for c in args.clients if not CLIENT.match(c) or c == INTERNAL]
    if bad or len(set(args.clients)) != len(args.clients):
        p.error(f"client names must be distinct, not {INTERNAL!r}, and made of letters, digits, '.', '_', '-': "
                f"{bad or args.clients}")
    keys = {client: new_key() for client in args.clients}
    for client, key in keys.items():
        print(f"{client}: {key}", file=sys.stderr)
    print(f"(shown once: only their SHA-256 digests are written, with the {INTERNAL} key the services use)",
          file=sys.stderr)
    keys[INTERNAL] = new_key()
    sys.stdout.write(k8s_secret(keys) if args.k8s else env_file(keys))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
