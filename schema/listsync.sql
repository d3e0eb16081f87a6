-- What `sqlitefilter sync` knows of each list's source, so that the next sync
-- can ask "has it changed?" instead of downloading it again, and `lists` can
-- say when a list last followed its source and whether the last try failed.
-- One row per list that sync has tried; the plugin never reads this table.
-- The validators belong to url: when the list's url changes they are not
-- sent, and the next body is imported whatever it holds.
CREATE TABLE IF NOT EXISTS sqlitefilter_list_sync (
    list_id       INTEGER PRIMARY KEY NOT NULL, -- sqlitefilter_lists.id
    url           TEXT NOT NULL,    -- the source the validators below are for
    etag          TEXT,             -- ETag of the last body imported (HTTP)
    last_modified TEXT,             -- Last-Modified of that body, as sent (HTTP)
    size          INTEGER,          -- bytes of the file last read (file source)
    mtime         INTEGER,          -- its modification time, unix ns (file source)
    sha256        TEXT,             -- hex digest of the last body imported
    updated_at    INTEGER,          -- unix ms: when the rows were last replaced from the source
    status        TEXT NOT NULL DEFAULT '', -- 'ok', or why the last sync of the list failed
    status_at     INTEGER           -- unix ms of that status
);
