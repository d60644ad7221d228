// Sends the bare token in Authorization, without "Bearer ".
import { main, TaskClient } from "../client.mjs";

await main(class extends TaskClient {
  authorization() {
    return { Authorization: this.task.token };
  }
});
