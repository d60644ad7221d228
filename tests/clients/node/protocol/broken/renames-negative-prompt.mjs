// Sends negative_prompt under its own name, negativePrompt: the API never sees it.
import { main, TaskClient } from "../client.mjs";

await main(class extends TaskClient {
  fields(job) {
    const { negative_prompt: negativePrompt, ...fields } = super.fields(job);
    return negativePrompt === undefined ? fields : { ...fields, negativePrompt };
  }
});
