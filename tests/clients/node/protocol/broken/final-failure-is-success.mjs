// Takes any final status for a result: a moderated, failed or cancelled job is reported completed.
import { isFinal, main, TaskClient } from "../client.mjs";

await main(class extends TaskClient {
  isSuccess(record) {
    return isFinal(record.status);
  }
});
