// Drops replyRef: the caller asked for it, the request never carries it.
import { main, TaskClient } from "../client.mjs";

await main(class extends TaskClient {
  fields(job) {
    const { replyRef, ...fields } = super.fields(job);
    return fields;
  }
});
