// Polls a job every second instead of every 10 s.
import { main, TaskClient } from "../client.mjs";

await main(class extends TaskClient {
  pollSeconds = 1;
});
