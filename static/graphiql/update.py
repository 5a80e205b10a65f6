"""Refresh static/graphiql/ from the npm registry, the one way these files are obtained.

For each asset in web/graphiql.py ASSETS (the CDN paths strawberry's GraphiQL template pins),
`npm pack` the package at that version, take the file from the tarball, and refuse it unless
its sha384 equals the template's Subresource Integrity hash (what a browser checks too). The
packages' LICENSE files go to licenses/. After a strawberry upgrade:

    .venv/bin/python static/graphiql/update.py           # rewrite the files
    .venv/bin/python static/graphiql/update.py --check   # compare only; exit 1 on a difference
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import re
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from strawberry.http.ides import get_graphql_ide_html  # noqa: E402

from web.graphiql import ASSETS, CDN, STATIC_DIR  # noqa: E402

SPEC = re.compile(r"^(@?[^@/]+(?:/[^@/]+)?)@([^/]+)/(.+)$")  # name@version/path/in/package


def pinned_integrity() -> dict[str, str]:
    """CDN path → the SRI hash strawberry's template gives it."""
    html = get_graphql_ide_html(graphql_ide="graphiql")
    pattern = r'(?:src|href)="' + re.escape(CDN) + r'([^"]+)"\s+integrity="([^"]+)"'
    return dict(re.findall(pattern, html))


def sri(data: bytes) -> str:
    return "sha384-" + base64.b64encode(hashlib.sha384(data).digest()).decode()


def npm_pack(package: str, version: str, into: Path) -> tarfile.TarFile:
    out = subprocess.run(["npm", "pack", "--silent", "--pack-destination", str(into), f"{package}@{version}"],
                         check=True, capture_output=True, text=True, timeout=300)
    return tarfile.open(into / out.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare with the files here, write nothing")
    check = parser.parse_args().check
    integrity = pinned_integrity()
    if set(integrity) != set(ASSETS):
        print(f"strawberry's template pins {sorted(integrity)}, web/graphiql.py ASSETS has {sorted(ASSETS)}")
        return 1
    wanted: dict[tuple[str, str], list[tuple[str, str]]] = {}
    for cdn_path, file in ASSETS.items():
        package, version, inner = SPEC.match(cdn_path).groups()
        wanted.setdefault((package, version), []).append((inner, file))
    differences = 0
    with tempfile.TemporaryDirectory() as tmp:
        for (package, version), files in sorted(wanted.items()):
            with npm_pack(package, version, Path(tmp)) as tarball:
                names = set(tarball.getnames())
                found = {file: tarball.extractfile(f"package/{inner}").read() for inner, file in files}
                licence = tarball.extractfile("package/LICENSE").read() if "package/LICENSE" in names else None
            for (inner, file), data in zip(files, found.values()):
                expected = integrity[f"{package}@{version}/{inner}"]
                if sri(data) != expected:
                    print(f"{package}@{version}/{inner}: {sri(data)} is not the pinned {expected}")
                    return 1
            if licence is not None:
                found[f"licenses/{package.split('/')[-1]}.LICENSE"] = licence
            for file, data in found.items():
                target = STATIC_DIR / file
                same = target.exists() and target.read_bytes() == data
                print(f"{'same' if same else 'differs' if check else 'written'}  {file}  ({package}@{version})")
                differences += not same
                if not check and not same:
                    target.write_bytes(data)
    return 1 if check and differences else 0


if __name__ == "__main__":
    sys.exit(main())
