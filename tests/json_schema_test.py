#!/usr/bin/python3
"""Every JSON output of mlasim validates against its schema in docs/schema/ (README "Output contracts").

Runs the CLI on small built-in inputs to produce each kind of document (step's stdout, sweep.json, a serve run's
summary.json, serve_sweep.json, plan.json, validate.json), then checks each against docs/schema/mlasim.schema.json
with a JSON Schema 2020-12 validator
(Debian's python3-jsonschema): the envelope (schema, schema_version, mlasim_version, config), every member's type,
no member the schema does not name. It also checks that the validator can fail: a boolean written as a string, a
number as a string, a missing member and an unknown one are each rejected.

usage: tests/json_schema_test.py MLASIM_BINARY SCRATCH_DIR   (run from the repository root; ctest does)
"""
import copy
import json
import pathlib
import shutil
import subprocess
import sys

try:
    import jsonschema
except ImportError:
    sys.exit("tests/json_schema_test.py needs python3-jsonschema: apt-get install python3-jsonschema "
             "(scripts/dev.sh test installs it)")

SCHEMA_FILE = pathlib.Path("docs/schema/mlasim.schema.json")
SCHEMAS = {  # the document's `schema` member -> its definition in SCHEMA_FILE
    "mlasim-step": "step",
    "mlasim-sweep": "sweep",
    "mlasim-serve-summary": "serve_summary",
    "mlasim-serve-sweep": "serve_sweep",
    "mlasim-plan": "plan",
    "mlasim-validate": "validate",
}

failures = []


def run(args, ok_codes=(0,)):
    proc = subprocess.run(args, capture_output=True, text=True)
    if proc.returncode not in ok_codes:
        sys.exit(f"FAILED: {' '.join(map(str, args))} exited {proc.returncode}\n{proc.stderr}")
    return proc.stdout


_whole = None


def validator_for(schema_name):
    """A validator for one document kind: the file's definitions, entered at that kind's."""
    global _whole
    if _whole is None:
        _whole = json.loads(SCHEMA_FILE.read_text())
        jsonschema.Draft202012Validator.check_schema(_whole)
    entry = {"$schema": _whole["$schema"], "$defs": _whole["$defs"], "$ref": "#/$defs/" + SCHEMAS[schema_name]}
    return jsonschema.Draft202012Validator(entry)


def check(document, what, expected_schema):
    name = document.get("schema")
    if name != expected_schema:
        failures.append(f"{what}: schema is {name!r}, expected {expected_schema!r}")
        return
    errors = sorted(validator_for(name).iter_errors(document), key=lambda e: list(e.absolute_path))
    for e in errors[:10]:
        failures.append(f"{what}: at /{'/'.join(map(str, e.absolute_path))}: {e.message}")
    print(f"  {what}: {name} v{document['schema_version']}: {'ok' if not errors else f'{len(errors)} errors'}")


def check_file(path, expected_schema):
    check(json.loads(pathlib.Path(path).read_text()), str(path), expected_schema)


def must_fail(document, what):
    name = document["schema"]
    if validator_for(name).is_valid(document):
        failures.append(f"the {name} schema accepts a document with {what}")
    else:
        print(f"  {name} rejects {what}: ok")


def first_object_with(doc, predicate, skip=()):
    """The first object (depth first) for which predicate(key, value) holds for a member, with that key; the
    top-level members named in `skip` (the envelope) are not searched."""
    stack = [doc]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            items = [(k, v) for k, v in node.items() if node is not doc or k not in skip]
            for k, v in items:
                if predicate(k, v):
                    return node, k
            stack.extend(reversed([v for _, v in items]))
        elif isinstance(node, list):
            stack.extend(reversed(node))
    return None, None


def mutations(document):
    """Documents that must not validate: a wrong type, a missing member, an unknown member."""
    out = []
    body = [k for k in document if k not in ("schema", "schema_version", "mlasim_version", "config")]
    for label, pred, change in [
        ("a boolean written as a string", lambda k, v: isinstance(v, bool), lambda v: "true" if v else "false"),
        ("a number written as a string", lambda k, v: isinstance(v, float), lambda v: f"{v:.3e}"),
        ("an integer written as a string", lambda k, v: isinstance(v, int) and not isinstance(v, bool) and k != "schema_version",
         lambda v: str(v)),
    ]:
        d = copy.deepcopy(document)
        obj, key = first_object_with(d, pred, skip=("schema", "schema_version", "mlasim_version", "config"))
        if obj is not None:
            obj[key] = change(obj[key])
            out.append((d, f"{label} (`{key}`)"))
    d = copy.deepcopy(document)
    del d[body[0]]
    out.append((d, f"its member `{body[0]}` missing"))
    d = copy.deepcopy(document)
    d["unexpected_member"] = 1
    out.append((d, "an unknown member"))
    d = copy.deepcopy(document)
    d["schema_version"] = d["schema_version"] + 1
    out.append((d, "another schema version"))
    return out


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    mlasim = sys.argv[1]
    scratch = pathlib.Path(sys.argv[2])
    shutil.rmtree(scratch, ignore_errors=True)
    scratch.mkdir(parents=True)
    documents = {}

    print("step --format json:")
    for args, codes in [
        (["--model", "llama-3-8b", "--hw", "h100-sxm", "--batch", "8", "--context", "4096"], (0,)),
        (["--model", "deepseek-v3", "--hw", "h200", "--tp", "8", "--batch", "32", "--context", "32k",
          "--price", "3.5"], (0,)),  # does not fit: status does-not-fit, exit 0 without --strict
        (["--model", "llama-3-70b", "--hw", "h100-sxm", "--tp", "4", "--context", "1024,2048,8192", "--sq", "2",
          "--weights", "fp8", "--kv-dtype", "fp8", "--mode", "speed-of-light", "--launch", "eager"], (0,)),
        (["--model", "deepseek-v3", "--hw", "h200", "--tp", "8", "--dp-attention", "--batch", "4096",
          "--context", "8192", "--weights", "fp8"], (0,)),  # batch above capacity
        (["--model", "deepseek-v3", "--hw", "h800", "--tp", "16", "--dp-attention", "--ep", "16",
          "--redundant-experts", "16", "--micro-batches", "2", "--mtp-depth", "2", "--mtp-acceptance", "0.9,0.5",
          "--batch", "512", "--context", "4k", "--weights", "fp8"], (0,)),  # DeepSeek's layout over 2 nodes
        (["--model", "llama-3-70b", "--hw", "h100-sxm", "--tp", "4", "--pp", "2", "--fuse-allreduce", "--batch",
          "3", "--context", "8k"], (0,)),  # pipeline stages with a bubble
    ]:
        doc = json.loads(run([mlasim, "step", *args, "--format", "json"], codes))
        check(doc, "step " + " ".join(args), "mlasim-step")
        documents.setdefault("mlasim-step", doc)

    print("sweep, serve, plan, validate files:")
    out = scratch / "sweep"
    run([mlasim, "sweep", "configs/llama3_70b_attention.yaml", "--out", out, "--no-charts", "--quiet",
         "--price", "h100-sxm=2.5"])
    check_file(out / "sweep.json", "mlasim-sweep")
    out = scratch / "serve"
    run([mlasim, "serve", "tests/serve_fixtures/serve_trace.yaml", "--out", out, "--no-charts", "--quiet"])
    check_file(out / "summary.json", "mlasim-serve-summary")
    out = scratch / "serve_sweep"
    run([mlasim, "serve", "configs/serve_llama3_8b_h100.yaml", "--out", out, "--no-charts", "--quiet"])
    check_file(out / "serve_sweep.json", "mlasim-serve-sweep")
    out = scratch / "serve_slo"
    run([mlasim, "serve", "configs/serve_llama3_8b_h100.yaml", "--out", out, "--no-charts", "--quiet",
         "--no-sweep", "--price", "2"])
    check_file(out / "summary.json", "mlasim-serve-summary")
    out = scratch / "disaggregated"  # prefill and decode pools: the summary's pool and KV-transfer members
    run([mlasim, "serve", "configs/serve_deepseek_v3_disaggregated_h100.yaml", "--out", out, "--no-charts",
         "--quiet", "--no-sweep"])
    check_file(out / "summary.json", "mlasim-serve-summary")
    out = scratch / "plan"
    run([mlasim, "plan", "tests/plan_fixtures/small_plan.yaml", "--out", out, "--no-charts", "--quiet",
         "--no-progress"])
    check_file(out / "plan.json", "mlasim-plan")
    run([mlasim, "synthesize-run", scratch / "run"])
    out = scratch / "validation"
    run([mlasim, "validate", scratch / "run", "--out", out, "--no-charts"])
    check_file(out / "validate.json", "mlasim-validate")
    for f in ["sweep/sweep.json", "serve/summary.json", "serve_sweep/serve_sweep.json", "plan/plan.json",
              "validation/validate.json"]:
        d = json.loads((scratch / f).read_text())
        documents.setdefault(d["schema"], d)

    version = run([mlasim, "--version"]).split()[1]
    for name, doc in documents.items():
        if doc["mlasim_version"] != version:
            failures.append(f"{name}: mlasim_version {doc['mlasim_version']!r}, `mlasim --version` says {version!r}")

    print("the schemas reject what they must:")
    for name, doc in documents.items():
        for bad, what in mutations(doc):
            must_fail(bad, what)

    if failures:
        print("\n".join(["FAILED:"] + failures))
        return 1
    print(f"all {len(SCHEMAS)} schemas: every output valid")
    return 0


if __name__ == "__main__":
    sys.exit(main())
