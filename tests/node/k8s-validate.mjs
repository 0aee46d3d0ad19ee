// k8s-validate.mjs FILE...: validates every object of the YAML files
// against the Kubernetes API's OpenAPI schema (kubernetes-models), and
// prints one tab-separated line per object for the tests to check:
//   file kind name schedule timeZone concurrencyPolicy args state secrets
// state: the claim mounted at /var/lib/schedfeed ("-" when none);
// secrets: the read-only secret mount, then each NAME_FILE=path (or the
// known_hosts path) that points into it. Exits 1 at the first invalid
// object, saying why.
import { readFileSync } from "node:fs";
import { parseAllDocuments } from "yaml";

const modules = {
	"v1": "kubernetes-models/v1",
	"batch/v1": "kubernetes-models/batch/v1",
};

function containerSummary(spec) {
	const c = spec.containers[0];
	const volumes = Object.fromEntries((spec.volumes || []).map((v) => [v.name, v]));
	let state = "-";
	let secretDir = null;
	for (const m of c.volumeMounts || []) {
		const v = volumes[m.name];
		if (!v) throw new Error(`mount ${m.name} has no volume`);
		if (m.mountPath === "/var/lib/schedfeed" && v.persistentVolumeClaim)
			state = v.persistentVolumeClaim.claimName;
		if (v.secret && m.readOnly === true)
			secretDir = `${m.mountPath}:${v.secret.secretName}`;
	}
	const files = (c.env || [])
		.filter((e) => secretDir && (e.value || "").startsWith(secretDir.split(":")[0] + "/"))
		.map((e) => `${e.name}=${e.value}`);
	// a password given as a value, not a file, would be in the object
	for (const e of c.env || [])
		if (/PASSWORD$|PWD$/.test(e.name))
			throw new Error(`${e.name}: a secret as a value; use ${e.name}_FILE`);
	return [JSON.stringify(c.args || []), state, [secretDir || "-", ...files].join(" ")];
}

let status = 0;
for (const file of process.argv.slice(2)) {
	for (const doc of parseAllDocuments(readFileSync(file, "utf8"))) {
		if (doc.errors.length) {
			console.error(`${file}: ${doc.errors[0].message}`);
			process.exit(1);
		}
		const obj = doc.toJS();
		if (obj === null) continue;
		const path = modules[obj.apiVersion];
		if (!path) {
			console.error(`${file}: no model for apiVersion ${obj.apiVersion}`);
			process.exit(1);
		}
		const Model = (await import(path))[obj.kind];
		if (!Model) {
			console.error(`${file}: no model for ${obj.apiVersion} ${obj.kind}`);
			process.exit(1);
		}
		try {
			new Model(obj).validate();
		} catch (e) {
			console.error(`${file}: ${obj.kind} ${obj.metadata?.name}: ${e.message}`);
			process.exit(1);
		}
		let row = [file, obj.kind, obj.metadata.name];
		if (obj.kind === "CronJob") {
			const s = obj.spec;
			row.push(s.schedule, s.timeZone || "-", s.concurrencyPolicy || "-",
			    ...containerSummary(s.jobTemplate.spec.template.spec));
		}
		console.log(row.join("\t"));
	}
}
process.exit(status);
