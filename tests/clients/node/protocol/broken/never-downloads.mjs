// Never downloads the videos: it reports the attachment urls as if they were the files.
import { main, TaskClient } from "../client.mjs";

await main(class extends TaskClient {
  async download(job, record) {
    return (record.attachments ?? []).map((attachment) => attachment.url);
  }
});
