// Swallows API errors: a job the API refused is reported skipped, without its code and message.
import { main, TaskClient } from "../client.mjs";

await main(class extends TaskClient {
  async runJob(job, parentResult) {
    const result = await super.runJob(job, parentResult);
    return result.outcome === "error" ? { job: job.id, outcome: "skipped" } : result;
  }
});
