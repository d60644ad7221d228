// Presses U1 (upscale) whatever the task asks: a meme_face result does not offer it.
import { main, TaskClient } from "../client.mjs";

await main(class extends TaskClient {
  buttonFor() {
    return "U1";
  }
});
