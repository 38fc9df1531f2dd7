"""Same-run benchmark of the `authz` filter (`scripts/bench auth`): bare Envoy vs Envoy + authz
(dynamic module, Wasm) verifying an RS256 JWT and evaluating one CEL rule on a pass-through route.

Every flavour proxies the same GET to the same nginx upstream, one Envoy worker each, measured by
wrk in interleaved rounds (bare, dynmod, wasm, ...) so drift in machine load hits all alike; the
per-flavour median over rounds is reported, and ratios are against bare Envoy. All requests carry
the same token, as a client reusing its access token does: after the first request the filter
answers from its verified-token cache (SHA-256 of the token → claims, until `exp`). The `-nocache`
rows turn that cache off (`tokenCacheSize: 0`): an RSA signature check on every request, the cost
the cache exists to avoid (most visible in Wasm, where the RSA arithmetic runs as Wasm code).
Keys are inline (the JWKS fetch path is not on the per-request path once keys are cached).
"""

import argparse
import json
import re
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

from bench import measure_rounds, report, start_nginx, summary, write_json
from envoy_process import EnvoyProcess

# Targets from the auth issue: throughput ratio to bare Envoy.
TARGETS = {"dynmod": 0.90, "wasm": 0.75}
PATH = "/a2a/demo/v1/tasks/bench-task"
ISSUER = "https://idp.bench"
AUDIENCE = "bench-api"
KID = "bench-key"
RULE = {
    "name": "task-readers",
    "allow": "request.path.startsWith('/a2a/demo/') && 'reader' in jwt.roles",
}


def key_and_token() -> tuple[dict, str]:
    """A fresh RSA-2048 key as a public JWK, and an RS256 token it signed (valid for an hour)."""
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(private.public_key()))
    jwk.update({"kid": KID, "alg": "RS256", "use": "sig"})
    now = int(time.time())
    claims = {"iss": ISSUER, "aud": AUDIENCE, "sub": "bench", "roles": ["reader"],
              "iat": now, "exp": now + 3600}
    token = jwt.encode(claims, private, algorithm="RS256", headers={"kid": KID})
    return jwk, token


def authz_config(jwk: dict, cache: bool) -> dict:
    config = {
        "issuers": [ISSUER],
        "audiences": [AUDIENCE],
        "jwks": {"inline": {"keys": [jwk]}},
        "policies": [RULE],
    }
    if not cache:
        config["tokenCacheSize"] = 0
    return config


def use_authz(envoy: EnvoyProcess, config: dict) -> None:
    """Swaps the rendered bootstrap's a2a filter (the only gateway filter) for authz."""
    if envoy.flavour == "dynmod":
        value = config
        text = envoy.config.read_text().replace("filter_name: a2a", "filter_name: authz")
    else:
        value = {"filter": "authz", "config": config}
        text = envoy.config.read_text()
    line = re.compile(r'^(\s+value: )".*\\"agents\\".*"$', re.M)
    text, count = line.subn(lambda m: m.group(1) + json.dumps(json.dumps(value)), text)
    if count != 1:
        sys.exit(f"bench auth: expected one a2a filter config in {envoy.config}, found {count}")
    envoy.config.write_text(text)


def status(url: str, token: str | None) -> int:
    request = urllib.request.Request(url)
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        return urllib.request.urlopen(request, timeout=10).status
    except urllib.error.HTTPError as e:
        return e.code


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=int, default=8, help="length of one measured run")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds per flavour")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--no-nocache", action="store_true",
                        help="skip the rows without the verified-token cache")
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON here")
    args = parser.parse_args()

    jwk, token = key_and_token()
    variants = {"bare": ("bare", None), "dynmod": ("dynmod", True), "wasm": ("wasm", True)}
    if not args.no_nocache:
        variants |= {"dynmod-nocache": ("dynmod", False), "wasm-nocache": ("wasm", False)}

    with tempfile.TemporaryDirectory(prefix="ai-gateway-bench-auth-") as tmp:
        workdir = Path(tmp)
        script = workdir / "auth.lua"
        script.write_text(f'wrk.headers["Authorization"] = "Bearer {token}"\n')
        nginx, upstream_port = start_nginx(workdir)
        try:
            envoys = {}
            for name, (flavour, cache) in variants.items():
                sub = workdir / name
                sub.mkdir()
                envoy = EnvoyProcess(flavour, {"demo": upstream_port}, sub)
                if flavour != "bare":
                    use_authz(envoy, authz_config(jwk, cache))
                envoys[name] = envoy
            try:
                for name, envoy in envoys.items():
                    envoy.start()
                    url = envoy.url(PATH)
                    if status(url, token) != 200:
                        sys.exit(f"bench auth: {name} refused the bench token")
                    if envoy.flavour != "bare" and status(url, None) != 401:
                        sys.exit(f"bench auth: {name} let a request without a token through")
                results = measure_rounds(envoys, PATH, args, script)
            finally:
                for envoy in envoys.values():
                    envoy.stop()
        finally:
            nginx.terminate()
            nginx.wait()

    title = (f"GET {PATH} with an RS256 bearer token and one CEL rule ({args.rounds} rounds x "
             f"{args.seconds}s, {args.connections} connections, 1 Envoy worker)")
    print(f"\nauth: {title}")
    report(results, TARGETS)
    table, checks = summary(results, TARGETS, issue=6)
    write_json(args.json, "auth", title, args, [table], checks)


if __name__ == "__main__":
    main()
