// A small PixVerse v1 client in plain Node (fetch, FormData, Blob; no dependencies) that keeps the
// client contract: Authorization: Bearer on every API call, meme_face as multipart with a face file
// part, a 10 s wait between polls (and after a 429), a stop at the final status, a download of the
// result, and a button taken from the job's own buttons (JSON body).
//
// Environment:
//   BASE_URL      the API base, e.g. https://api.useapi.net/v1 or http://127.0.0.1:8080/v1
//   TOKEN         the API token
//   FACE          path of the face image to upload
//   MOCK_CONTROL  (tests only) the mock's root URL, e.g. http://127.0.0.1:8080: see wait() below
//
// Run: BASE_URL=... TOKEN=... FACE=fixtures/faces/face.png node tests/clients/node/client.mjs
import { readFileSync } from "node:fs";
import { basename } from "node:path";

const BASE_URL = required("BASE_URL").replace(/\/+$/, "");
const TOKEN = required("TOKEN");
const FACE = required("FACE");
const MOCK_CONTROL = (process.env.MOCK_CONTROL ?? "").replace(/\/+$/, "");
const POLL_SECONDS = 10;
const MAX_POLLS = 60;
const MAX_SUBMITS = 5;
const AUTH = { Authorization: `Bearer ${TOKEN}` };

function required(name) {
  const value = process.env[name];
  if (!value) {
    console.error(`${name} is required`);
    process.exit(2);
  }
  return value;
}

// Wait between polls and after a 429. A real client sleeps 10 s here. Under test, the mock runs on
// a manual clock and MOCK_CONTROL is set: advancing the mock's clock by 10 s through its control
// plane is the test harness's stand-in for that real 10 s sleep (the mock's journal then shows the
// polls 10 s apart in mock time), so the test stays fast and never sleeps.
async function wait(seconds) {
  if (MOCK_CONTROL) {
    const response = await fetch(`${MOCK_CONTROL}/__mock/clock/advance`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ seconds }),
    });
    if (!response.ok) throw new Error(`clock advance: HTTP ${response.status}`);
    return;
  }
  await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
}

async function api(path, init = {}) {
  const response = await fetch(`${BASE_URL}/pixverse/${path}`, {
    ...init,
    headers: { ...AUTH, ...(init.headers ?? {}) },
  });
  const body = await response.json().catch(() => ({}));
  return { status: response.status, body };
}

// POST meme_face or button; on 429 wait 10 s and send again (any other error is final).
async function submit(path, makeInit) {
  for (let attempt = 1; attempt <= MAX_SUBMITS; attempt++) {
    const { status, body } = await api(path, makeInit());
    if (status === 200) return body;
    if (status !== 429) throw new Error(`${path}: ${status} ${body.error ?? ""}`);
    await wait(POLL_SECONDS);
  }
  throw new Error(`${path}: still 429 after ${MAX_SUBMITS} attempts`);
}

async function memeFace(prompt) {
  const face = readFileSync(FACE);
  return submit("meme_face", () => {
    const form = new FormData(); // fetch sets the multipart boundary itself
    form.append("prompt", prompt);
    form.append("face", new Blob([face], { type: "image/png" }), basename(FACE));
    return { method: "POST", body: form };
  });
}

async function waitForResult(jobid) {
  for (let poll = 1; poll <= MAX_POLLS; poll++) {
    const { status, body } = await api(`jobs/?jobid=${encodeURIComponent(jobid)}`);
    if (status !== 200) throw new Error(`jobs: ${status} ${body.error ?? ""}`);
    if (body.status === "completed") return body;
    if (["failed", "moderated", "cancelled"].includes(body.status)) {
      throw new Error(`job ${jobid} ended ${body.status}: ${body.error ?? ""}`);
    }
    await wait(POLL_SECONDS);
  }
  throw new Error(`job ${jobid} did not finish after ${MAX_POLLS} polls`);
}

// Attachment urls are CDN urls: fetched without the API token.
async function download(url) {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`download ${url}: HTTP ${response.status}`);
  return new Uint8Array(await response.arrayBuffer());
}

async function pressButton(jobid, button) {
  return submit("button", () => ({
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ jobid, button }),
  }));
}

async function main() {
  const job = await memeFace("A girl laughing by the seaside");
  console.log(`submitted ${job.jobid} (${job.status})`);
  const done = await waitForResult(job.jobid);
  const video = await download(done.attachments[0].url);
  console.log(`downloaded ${video.length} bytes`);
  const child = await pressButton(done.jobid, done.buttons[0]);
  console.log(`pressed ${done.buttons[0]}: ${child.jobid} (${child.status})`);
}

main().catch((error) => {
  console.error(String(error?.stack ?? error));
  process.exit(1);
});
