#!/usr/bin/env python3
"""Validates a JSON document against one of the schemas in this folder (Debian: python3-jsonschema).

Usage: validate.py SCHEMA.json DOCUMENT.json    exit 0 when valid; the errors on stderr otherwise.
"""
import json
import pathlib
import sys

import jsonschema

here = pathlib.Path(__file__).resolve().parent
schema_path, document_path = sys.argv[1], sys.argv[2]
schema = json.loads(pathlib.Path(schema_path).read_text())
common = json.loads((here / "common.schema.json").read_text())
store = {common["$id"]: common, schema["$id"]: schema}
resolver = jsonschema.RefResolver.from_schema(schema, store=store)
validator_class = jsonschema.validators.validator_for(schema)
validator_class.check_schema(schema)
validator = validator_class(schema, resolver=resolver)
document = json.loads(pathlib.Path(document_path).read_text())
errors = sorted(validator.iter_errors(document), key=lambda e: list(e.path))
for error in errors:
    where = "/".join(str(p) for p in error.absolute_path) or "(top)"
    print(f"{document_path}: {where}: {error.message}", file=sys.stderr)
sys.exit(1 if errors else 0)
