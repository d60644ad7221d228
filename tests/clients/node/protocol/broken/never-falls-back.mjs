// Waits for the callback forever: when it never comes, the client never polls and never ends.
import { main, TaskClient } from "../client.mjs";

await main(class extends TaskClient {
  async waitForCallback(jobid) {
    for (;;) {
      const record = await this.nextCallback(jobid, 3600);
      if (record) return record;
    }
  }
});
