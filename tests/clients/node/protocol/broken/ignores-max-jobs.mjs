// Ignores maxJobs: every job of the task is submitted at once, whatever maxJobs says.
import { main, TaskClient } from "../client.mjs";

await main(class extends TaskClient {
  concurrency() {
    return Infinity;
  }
});
