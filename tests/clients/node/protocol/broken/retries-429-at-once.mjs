// Retries a 429 at once: the next submit goes out without the 10 s wait.
import { main, TaskClient } from "../client.mjs";

await main(class extends TaskClient {
  after429() {}
});
