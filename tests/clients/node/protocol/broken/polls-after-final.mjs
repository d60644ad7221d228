// Polls once more after the final status "to be sure".
import { main, sleep, TaskClient } from "../client.mjs";

await main(class extends TaskClient {
  async waitForResult(submitted) {
    const record = await super.waitForResult(submitted);
    await sleep(this.pollSeconds);
    await this.poll(record.jobid);
    return record;
  }
});
