"""Form schemas of the bundles' steps (JSON Schema), shipped in the wheel as data."""
