// Sends meme_face as JSON, the face as base64 text, instead of multipart with a file part.
import { main, TaskClient } from "../client.mjs";

await main(class extends TaskClient {
  memeFaceRequest(job, face) {
    const body = { ...this.fields(job), face: face.toString("base64") };
    if (job.prompt != null) body.prompt = job.prompt;
    return { body: JSON.stringify(body), headers: { "Content-Type": "application/json" } };
  }
});
