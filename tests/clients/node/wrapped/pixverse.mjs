// An application's own PixVerse v1 client, as a user already has it: it knows nothing of the contract
// kit. contract-wrapper.mjs (next to it) is all it takes to check it with `pixverse-contract check`.
import { readFile, writeFile } from "node:fs/promises";
import { basename } from "node:path";

const wait = (seconds) => new Promise((resolve) => setTimeout(resolve, seconds * 1000));

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

export class PixverseClient {
  constructor({ baseUrl, token }) {
    this.baseUrl = baseUrl.replace(/\/+$/, "");
    this.headers = { Authorization: `Bearer ${token}` };
  }

  async request(method, path, { body, headers } = {}) {
    const response = await fetch(`${this.baseUrl}/pixverse/${path}`, {
      method,
      body,
      headers: { ...this.headers, ...headers },
    });
    const json = await response.json().catch(() => ({}));
    if (!response.ok) throw new ApiError(response.status, json.error ?? `HTTP ${response.status}`);
    return json;
  }

  // A submit; a 429 is retried after 10 s (at most 20 times).
  async submit(path, makeRequest) {
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.request("POST", path, makeRequest());
      } catch (error) {
        if (!(error instanceof ApiError) || error.status !== 429 || attempt >= 20) throw error;
        await wait(10);
      }
    }
  }

  async memeFace(facePath, prompt, fields = {}) {
    const face = await readFile(facePath);
    return this.submit("meme_face", () => {
      const form = new FormData();
      for (const [name, value] of Object.entries(fields)) form.append(name, String(value));
      if (prompt != null) form.append("prompt", prompt);
      form.append("face", new Blob([face], { type: "image/png" }), basename(facePath));
      return { body: form };
    });
  }

  async pressButton(jobid, button, prompt, fields = {}) {
    const body = JSON.stringify({ ...fields, jobid, button, ...(prompt != null ? { prompt } : {}) });
    return this.submit("button", () => ({ body, headers: { "Content-Type": "application/json" } }));
  }

  // The job's final record (completed, failed, moderated or cancelled), polled every 10 s.
  async waitForResult(jobid) {
    for (;;) {
      await wait(10);
      const job = await this.request("GET", `jobs/?jobid=${encodeURIComponent(jobid)}`);
      if (["completed", "failed", "moderated", "cancelled"].includes(job.status)) return job;
    }
  }

  async download(url, path) {
    const response = await fetch(url);
    if (!response.ok) throw new ApiError(response.status, `download failed: HTTP ${response.status}`);
    await writeFile(path, new Uint8Array(await response.arrayBuffer()));
    return path;
  }
}
