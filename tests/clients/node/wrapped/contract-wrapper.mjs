// Runs a task of the kit's command protocol with an existing client (./pixverse.mjs), unchanged:
//   pixverse-contract check --client "node contract-wrapper.mjs"
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { ApiError, PixverseClient } from "./pixverse.mjs";

const task = JSON.parse(await readFile(process.env.PIXVERSE_TASK, "utf8"));
const client = new PixverseClient({ baseUrl: task.base_url, token: task.token });
const replyUrl = task.callbacks ? { replyUrl: task.callbacks.reply_url } : {}; // then it polls: allowed
await mkdir(task.download_dir, { recursive: true });
const done = {};
for (const job of task.jobs) {
  const parent = done[job.parent];
  if (job.parent && parent?.outcome !== "completed") {
    done[job.id] = { job: job.id, outcome: "skipped" };
    continue;
  }
  try {
    const fields = { ...replyUrl, ...job.fields };
    const { jobid } = job.parent
      ? await client.pressButton(parent.jobid, job.button, job.prompt, fields)
      : await client.memeFace(job.face, job.prompt, fields);
    const final = await client.waitForResult(jobid);
    const files = [];
    for (const [i, { url }] of (final.status === "completed" ? final.attachments : []).entries()) {
      files.push(await client.download(url, join(task.download_dir, `${job.id}-${i}.mp4`)));
    }
    done[job.id] = final.status === "completed"
      ? { job: job.id, outcome: "completed", jobid, files }
      : { job: job.id, outcome: "job_failed", jobid, status: final.status, message: final.error ?? null };
  } catch (error) {
    if (!(error instanceof ApiError)) throw error;
    done[job.id] = { job: job.id, outcome: "error", code: error.status, message: error.message };
  }
}
await writeFile(process.env.PIXVERSE_REPORT, JSON.stringify({ results: Object.values(done) }));
