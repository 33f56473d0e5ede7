"""The county's bundle library (BPMN files), shipped in the wheel as data."""
