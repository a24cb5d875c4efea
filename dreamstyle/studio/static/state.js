// What the page knows, shared by its parts: the schema, the form's uploads, the followed job, the
// jobs made here and the gallery as last seen.

export const FINAL = ["done", "stopped", "failed", "interrupted"];
export const POLL_MS = 1500;

export const state = {
  schema: null,
  engine: null,
  uploads: {},          // input name -> [{id, name, width, height}] (one entry unless "many")
  pending: new Set(),   // upload promises still running
  watch: null,          // {id, es, state, n, loading, wanted}
  mine: new Map(),      // job ids made from this page -> {reported: bool}
  seenFinal: new Set(), // job ids already seen in a final state (a change refreshes the gallery)
  gallery: [],
  galleryKey: "",
  offline: false,
  polledOnce: false,    // the queue was read once (jobs already final then do not refresh the gallery)
  networks: [],         // the trained networks the studio lists (GET /api/networks)
};
