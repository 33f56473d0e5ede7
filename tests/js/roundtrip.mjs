// Round-trip BPMN files through bpmn-moddle with the hf: moddle descriptor.
//
// usage: node roundtrip.mjs DESCRIPTOR.json FILE.bpmn...
// prints one JSON document:
//   {"bpmnModdle": version, "results": [{"file", "xml", "warnings": [{"message", "type"}], "error"}]}
// where a warning's type is the moddle type of the element it is about (e.g. "hf:Step"), if any.
// The Python side (tests/test_moddle.py) compares the hf: elements before and after.
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';

import * as bpmnModdle from 'bpmn-moddle';

// bpmn-moddle 10 exports { BpmnModdle }; 9 and older export it as the default
const BpmnModdle = bpmnModdle.BpmnModdle ?? bpmnModdle.default;

const [descriptorPath, ...files] = process.argv.slice(2);
const descriptor = JSON.parse(await readFile(descriptorPath, 'utf8'));
const version = createRequire(import.meta.url)('bpmn-moddle/package.json').version;

const results = [];
for (const file of files) {
  const moddle = new BpmnModdle({ hf: descriptor });
  try {
    const { rootElement, warnings } = await moddle.fromXML(await readFile(file, 'utf8'));
    const { xml } = await moddle.toXML(rootElement, { format: true });
    results.push({
      file,
      xml,
      warnings: warnings.map((w) => ({
        message: String(w.message),
        type: (w.element && w.element.$type) || null,
      })),
      error: null,
    });
  } catch (err) {
    results.push({ file, xml: null, warnings: [], error: String(err && err.message ? err.message : err) });
  }
}
process.stdout.write(JSON.stringify({ bpmnModdle: version, results }) + '\n');
