#!/usr/bin/env python3
"""Validates JSON or YAML files, or the lines of JSONL files (.jsonl, .jsonl.zst, .jsonl.gz), against a
JSON Schema. Used by the test suite: `validate-json.py SCHEMA FILE...`. Prints one line per
failure and `N passed, N failed` at the end; exits 1 on any failure."""
import gzip, json, subprocess, sys
import jsonschema

def records(path):
    if path.endswith(".zst"):
        data = subprocess.run(["zstd", "-dc", path], check=True, capture_output=True).stdout
    elif path.endswith(".gz"):
        data = gzip.open(path).read()
    else:
        data = open(path, "rb").read()
    if path.endswith((".yaml", ".yml")):
        import yaml
        yield path, yaml.safe_load(data)
        return
    if ".jsonl" in path:
        for n, line in enumerate(data.splitlines(), 1):
            yield f"{path}:{n}", json.loads(line)
    else:
        yield path, json.loads(data)

def main():
    schema = json.load(open(sys.argv[1]))
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    v = cls(schema, format_checker=cls.FORMAT_CHECKER)
    ok = bad = 0
    for path in sys.argv[2:]:
        for where, rec in records(path):
            errors = list(v.iter_errors(rec))
            if errors:
                bad += 1
                for e in errors[:3]:
                    print(f"{where}: {'/'.join(map(str, e.absolute_path))}: {e.message}")
            else:
                ok += 1
    print(f"validated: {ok} passed, {bad} failed")
    sys.exit(1 if bad or ok == 0 else 0)

main()
