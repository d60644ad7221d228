// A PixVerse v1 client in plain Node (fetch, FormData, node:http; no dependencies) that runs a task of
// the kit's command protocol (contract_tests/PROTOCOL.md) and keeps the client contract:
//   - Authorization: Bearer on every call; meme_face as multipart with a face file part; every field
//     of the task sent as given (a button's fields in a JSON body);
//   - several jobs in flight, but never more executing than the smallest maxJobs of the task;
//   - one submit at a time; after a 429 no submit for 10 s (any job's), and only 429s are retried;
//   - a job polled at most every 10 s and never again once final; in callback mode it listens for the
//     POSTed job records, takes the first final one per job (a duplicate is not a second result), and
//     falls back to polling when no callback came 20 s after the submit;
//   - moderated / failed / cancelled jobs reported as failures, API errors with code and message,
//     the videos of a completed job downloaded, a button pressed only once its parent completed.
//
// Run by the kit: pixverse-contract check --client "node tests/clients/node/protocol/client.mjs".
// The broken clients in ./broken/ subclass TaskClient and change one method each.
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { createServer } from "node:http";
import { basename, join } from "node:path";
import { pathToFileURL } from "node:url";

export const FINAL_FAILURES = ["failed", "moderated", "cancelled"];
export const isFinal = (status) => status === "completed" || FINAL_FAILURES.includes(status);

// Under faketime (the default) sleeps are accelerated for us and PIXVERSE_WAIT_SCALE is 1; with
// --no-faketime the kit sets it to the time scale and every wait is divided by it.
const WAIT_SCALE = Number(process.env.PIXVERSE_WAIT_SCALE ?? 1) || 1;
export const sleep = (seconds) => new Promise((resolve) => setTimeout(resolve, (seconds * 1000) / WAIT_SCALE));
const seconds = () => (Date.now() / 1000) * WAIT_SCALE;

export class ApiError extends Error {
  constructor(code, message, jobid = null) {
    super(`${code} ${message}`);
    this.code = code;
    this.apiMessage = message;
    this.jobid = jobid;
  }
}

class Slots {
  constructor(size) {
    this.free = size;
    this.queue = [];
  }
  async acquire() {
    if (this.free > 0) this.free--;
    else await new Promise((resolve) => this.queue.push(resolve));
  }
  release() {
    const next = this.queue.shift();
    if (next) next();
    else this.free++;
  }
}

export class TaskClient {
  pollSeconds = 10;
  retrySeconds = 10;
  callbackGraceSeconds = 20;
  maxRetries = 20;
  maxPolls = 200;

  constructor(task) {
    this.task = task;
    this.baseUrl = task.base_url.replace(/\/+$/, "");
    this.slots = new Slots(this.concurrency());
    this.submitting = new Slots(1);
    this.submitsNotBefore = 0;
    this.callbacks = new Map(); // jobid -> the first final job record POSTed to us
    this.waiters = new Map(); // jobid -> resolve(record)
  }

  // How many jobs may execute at once: the smallest maxJobs the task carries (the mock's default 10).
  concurrency() {
    const limits = this.task.jobs.map((job) => Number(job.fields?.maxJobs)).filter((n) => n >= 1);
    return limits.length ? Math.min(...limits) : 10;
  }

  authorization() {
    return { Authorization: `Bearer ${this.task.token}` };
  }

  async call(method, path, { body, headers } = {}) {
    const response = await fetch(`${this.baseUrl}/pixverse/${path}`, {
      method,
      body,
      headers: { ...this.authorization(), ...(headers ?? {}) },
    });
    const json = await response.json().catch(() => ({}));
    return { status: response.status, body: json ?? {} };
  }

  // --- requests ---------------------------------------------------------------------------------

  // The task's fields, and replyUrl in callback mode.
  fields(job) {
    const fields = { ...(job.fields ?? {}) };
    if (this.task.callbacks && fields.replyUrl == null) fields.replyUrl = this.task.callbacks.reply_url;
    return fields;
  }

  memeFaceRequest(job, face) {
    const form = new FormData(); // fetch sets the multipart boundary itself
    for (const [name, value] of Object.entries(this.fields(job))) form.append(name, String(value));
    if (job.prompt != null) form.append("prompt", job.prompt);
    form.append("face", new Blob([face], { type: "image/png" }), basename(job.face));
    return { body: form };
  }

  buttonFor(job) {
    return job.button;
  }

  buttonRequest(job, parentJobid) {
    const body = { ...this.fields(job), jobid: parentJobid, button: this.buttonFor(job) };
    if (job.prompt != null) body.prompt = job.prompt;
    return { body: JSON.stringify(body), headers: { "Content-Type": "application/json" } };
  }

  // A 429 (Discord throttling, or maxJobs) holds every submit back for retrySeconds.
  after429() {
    this.submitsNotBefore = seconds() + this.retrySeconds;
  }

  async submit(job, parentJobid) {
    await this.submitting.acquire();
    try {
      return await this.send(job, parentJobid);
    } finally {
      this.submitting.release();
    }
  }

  async send(job, parentJobid) {
    const face = job.endpoint === "meme_face" ? await readFile(job.face) : null;
    for (let attempt = 0; ; attempt++) {
      const wait = this.submitsNotBefore - seconds();
      if (wait > 0) await sleep(wait);
      const request = face ? this.memeFaceRequest(job, face) : this.buttonRequest(job, parentJobid);
      const { status, body } = await this.call("POST", job.endpoint, request);
      if (status === 200) return body;
      if (status === 429 && attempt < this.maxRetries) {
        this.after429();
        continue;
      }
      throw new ApiError(status, body.error ?? `HTTP ${status}`, body.jobid ?? null);
    }
  }

  // --- waiting for the result -------------------------------------------------------------------

  isSuccess(record) {
    return record.status === "completed";
  }

  async poll(jobid) {
    const { status, body } = await this.call("GET", `jobs/?jobid=${encodeURIComponent(jobid)}`);
    if (status !== 200) throw new ApiError(status, body.error ?? `HTTP ${status}`, jobid);
    return body;
  }

  async pollUntilFinal(jobid) {
    for (let polls = 0; polls < this.maxPolls; polls++) {
      await sleep(this.pollSeconds);
      const record = await this.poll(jobid);
      if (isFinal(record.status)) return record;
    }
    throw new Error(`job ${jobid} did not finish after ${this.maxPolls} polls`);
  }

  async waitForResult(submitted) {
    if (isFinal(submitted.status)) return submitted;
    if (!this.task.callbacks) return this.pollUntilFinal(submitted.jobid);
    return this.waitForCallback(submitted.jobid);
  }

  // The callback, else (none after the grace period) a poll every pollSeconds until either gives a
  // final record.
  async waitForCallback(jobid) {
    let record = await this.nextCallback(jobid, this.callbackGraceSeconds);
    for (let polls = 0; !record && polls < this.maxPolls; polls++) {
      const polled = await this.poll(jobid);
      if (isFinal(polled.status)) return polled;
      record = await this.nextCallback(jobid, this.pollSeconds);
    }
    if (!record) throw new Error(`job ${jobid}: no callback and no final status`);
    return record;
  }

  nextCallback(jobid, timeoutSeconds) {
    if (this.callbacks.has(jobid)) return Promise.resolve(this.callbacks.get(jobid));
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.waiters.delete(jobid);
        resolve(null);
      }, (timeoutSeconds * 1000) / WAIT_SCALE);
      this.waiters.set(jobid, (record) => {
        clearTimeout(timer);
        resolve(record);
      });
    });
  }

  // A POSTed job record: the first final one per jobid is the result (a callback may even come
  // before the submit's answer was read); repeats and progress callbacks change nothing.
  onCallback(record) {
    if (!record?.jobid || !isFinal(record.status) || this.callbacks.has(record.jobid)) return;
    this.callbacks.set(record.jobid, record);
    this.waiters.get(record.jobid)?.(record);
    this.waiters.delete(record.jobid);
  }

  async listen() {
    const { listen_host: host, listen_port: port } = this.task.callbacks;
    this.server = createServer((request, response) => {
      const chunks = [];
      request.on("data", (chunk) => chunks.push(chunk));
      request.on("end", () => {
        try {
          this.onCallback(JSON.parse(Buffer.concat(chunks).toString("utf8")));
        } catch {
          // not a job record: ignored
        }
        response.writeHead(200, { "Content-Type": "application/json" }).end("{}");
      });
    });
    await new Promise((resolve, reject) => {
      this.server.once("error", reject);
      this.server.listen(port, host, resolve);
    });
  }

  // --- the result ---------------------------------------------------------------------------------

  // Attachment urls are CDN urls: fetched without the API token.
  async download(job, record) {
    await mkdir(this.task.download_dir, { recursive: true });
    const files = [];
    for (const [index, attachment] of (record.attachments ?? []).entries()) {
      const response = await fetch(attachment.url);
      if (!response.ok) throw new Error(`download ${attachment.url}: HTTP ${response.status}`);
      const file = join(this.task.download_dir, `${job.id}-${index}.mp4`);
      await writeFile(file, new Uint8Array(await response.arrayBuffer()));
      files.push(file);
    }
    return files;
  }

  async runJob(job, parentResult) {
    let parentJobid = null;
    if (job.parent) {
      const parent = await parentResult;
      if (parent.outcome !== "completed") return { job: job.id, outcome: "skipped" };
      parentJobid = parent.jobid;
    }
    await this.slots.acquire();
    let holding = true;
    try {
      const submitted = await this.submit(job, parentJobid);
      const record = await this.waitForResult(submitted);
      this.slots.release();
      holding = false;
      if (!this.isSuccess(record)) {
        return { job: job.id, outcome: "job_failed", jobid: record.jobid, status: record.status, message: record.error ?? null };
      }
      return { job: job.id, outcome: "completed", jobid: record.jobid, files: await this.download(job, record) };
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      return { job: job.id, outcome: "error", code: error.code, message: error.apiMessage, jobid: error.jobid };
    } finally {
      if (holding) this.slots.release();
    }
  }

  // Every job at once (the slots keep maxJobs); a button job after its parent's result.
  async results() {
    const started = new Map();
    const byId = new Map(this.task.jobs.map((job) => [job.id, job]));
    const start = (job) => {
      if (!started.has(job.id)) {
        const parent = job.parent ? start(byId.get(job.parent)) : null;
        started.set(job.id, this.runJob(job, parent));
      }
      return started.get(job.id);
    };
    return Promise.all(this.task.jobs.map(start));
  }

  async run() {
    if (this.task.callbacks) await this.listen();
    try {
      return { results: await this.results() };
    } finally {
      this.server?.close();
      this.server?.closeAllConnections?.();
    }
  }
}

// Read the task, run it, write the report: the whole of the protocol.
export async function main(Client = TaskClient) {
  try {
    const task = JSON.parse(await readFile(process.env.PIXVERSE_TASK, "utf8"));
    const report = await new Client(task).run();
    await writeFile(process.env.PIXVERSE_REPORT, JSON.stringify(report));
  } catch (error) {
    console.error(String(error?.stack ?? error));
    process.exit(1);
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await main();
