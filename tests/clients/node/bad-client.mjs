// The client of client.mjs with the mistakes real clients make, for the contract kit to catch:
//   1. meme_face sent as JSON (the face as base64 text) instead of multipart with a file part;
//   2. a poll without the Authorization header;
//   3. polls with no wait between them;
//   4. a prompt sent with U1 (only V1-V4 and the remix button take one; U1 is not even offered).
// It still reaches the end of its flow and exits 0: nothing in its own output shows the mistakes,
// only the mock's journal does (`pixverse-contract verify`).
//
// Environment as for client.mjs: BASE_URL, TOKEN, FACE, and MOCK_CONTROL under test (the mock's
// manual clock is advanced by 10 s as the stand-in for a real 10 s sleep, when it does wait).
import { readFileSync } from "node:fs";
import { basename } from "node:path";

const BASE_URL = process.env.BASE_URL.replace(/\/+$/, "");
const TOKEN = process.env.TOKEN;
const FACE = process.env.FACE;
const MOCK_CONTROL = (process.env.MOCK_CONTROL ?? "").replace(/\/+$/, "");
const AUTH = { Authorization: `Bearer ${TOKEN}` };

async function wait(seconds) {
  if (MOCK_CONTROL) {
    await fetch(`${MOCK_CONTROL}/__mock/clock/advance`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ seconds }),
    });
  } else {
    await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
  }
}

async function call(path, init = {}) {
  const response = await fetch(`${BASE_URL}/pixverse/${path}`, init);
  return { status: response.status, body: await response.json().catch(() => ({})) };
}

async function main() {
  const face = readFileSync(FACE);

  // Mistake 1: meme_face as JSON.
  const asJson = await call("meme_face", {
    method: "POST",
    headers: { ...AUTH, "Content-Type": "application/json" },
    body: JSON.stringify({ prompt: "A girl laughing", face: face.toString("base64") }),
  });
  console.log(`meme_face as JSON: ${asJson.status}`);

  const form = new FormData();
  form.append("prompt", "A girl laughing");
  form.append("face", new Blob([face], { type: "image/png" }), basename(FACE));
  const { body: job } = await call("meme_face", { method: "POST", headers: AUTH, body: form });
  const poll = `jobs/?jobid=${encodeURIComponent(job.jobid)}`;

  // Mistake 2: a poll without the Authorization header.
  const anonymous = await call(poll);
  console.log(`poll without auth: ${anonymous.status}`);

  // Mistake 3: polls back to back, with no wait between them.
  await call(poll, { headers: AUTH });
  await call(poll, { headers: AUTH });

  let done = job;
  for (let i = 0; i < 30 && done.status !== "completed"; i++) {
    await wait(10);
    done = (await call(poll, { headers: AUTH })).body;
  }
  const video = await fetch(done.attachments[0].url);
  console.log(`download: ${video.status} ${(await video.arrayBuffer()).byteLength} bytes`);

  // Mistake 4: a prompt with U1.
  const pressed = await call("button", {
    method: "POST",
    headers: { ...AUTH, "Content-Type": "application/json" },
    body: JSON.stringify({ jobid: done.jobid, button: "U1", prompt: "make it blue" }),
  });
  console.log(`U1 with a prompt: ${pressed.status}`);
}

main().catch((error) => {
  console.error(String(error?.stack ?? error));
  process.exit(1);
});
