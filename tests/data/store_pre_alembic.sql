-- A database made by the pre-alembic store (numbered m001 recorded in schema_version, as of
-- commit ee6d881) through its Store API, dumped with sqlite3 iterdump. Frozen test data:
-- tests/test_migrations.py upgrades it. Do not regenerate with newer code.
BEGIN TRANSACTION;
CREATE TABLE artifacts (
	id INTEGER NOT NULL, 
	doc_id VARCHAR NOT NULL, 
	kind VARCHAR NOT NULL, 
	variant VARCHAR NOT NULL, 
	payload JSON, 
	provenance JSON, 
	status VARCHAR NOT NULL, 
	created_at DATETIME NOT NULL, 
	PRIMARY KEY (id), 
	CONSTRAINT uq_artifact UNIQUE (doc_id, kind, variant), 
	FOREIGN KEY(doc_id) REFERENCES documents (id) ON DELETE CASCADE
);
INSERT INTO "artifacts" VALUES(1,'d1','summary','summary@v1|m','{"headline": "Two paragraphs"}','{"model": "m"}','done','2026-12-05 14:20:29.017919');
CREATE TABLE cache (
	"key" VARCHAR NOT NULL, 
	task VARCHAR NOT NULL, 
	prompt_id VARCHAR NOT NULL, 
	prompt_version VARCHAR NOT NULL, 
	model VARCHAR NOT NULL, 
	response VARCHAR NOT NULL, 
	tokens_in INTEGER NOT NULL, 
	tokens_out INTEGER NOT NULL, 
	cost_usd FLOAT NOT NULL, 
	created_at DATETIME NOT NULL, 
	hits INTEGER NOT NULL, 
	last_hit DATETIME, 
	PRIMARY KEY ("key")
);
INSERT INTO "cache" VALUES('k1','summary','summary','v1','m','{"headline": "Two paragraphs"}',120,30,0.0004,'2026-12-05 14:20:29.018956',1,'2026-12-05 14:20:29.023781');
CREATE TABLE calls (
	id INTEGER NOT NULL, 
	cache_key VARCHAR NOT NULL, 
	task VARCHAR NOT NULL, 
	prompt_id VARCHAR NOT NULL, 
	prompt_version VARCHAR NOT NULL, 
	model VARCHAR NOT NULL, 
	tokens_in INTEGER NOT NULL, 
	tokens_out INTEGER NOT NULL, 
	cached_tokens INTEGER NOT NULL, 
	cost_usd FLOAT NOT NULL, 
	latency_ms FLOAT NOT NULL, 
	attempts INTEGER NOT NULL, 
	outcome VARCHAR NOT NULL, 
	created_at DATETIME NOT NULL, 
	PRIMARY KEY (id)
);
INSERT INTO "calls" VALUES(1,'k1','summary','summary','v1','m',120,30,0,0.0004,812.5,1,'ok','2026-12-05 14:20:29.022943');
INSERT INTO "calls" VALUES(2,'k1','summary','summary','v1','m',0,0,0,0.0,0.0,0,'hit','2026-12-05 14:20:29.023663');
CREATE TABLE chunks (
	id INTEGER NOT NULL, 
	doc_id VARCHAR NOT NULL, 
	budget INTEGER NOT NULL, 
	"index" INTEGER NOT NULL, 
	start INTEGER NOT NULL, 
	"end" INTEGER NOT NULL, 
	text VARCHAR NOT NULL, 
	tokens INTEGER NOT NULL, 
	PRIMARY KEY (id), 
	FOREIGN KEY(doc_id) REFERENCES documents (id) ON DELETE CASCADE
);
INSERT INTO "chunks" VALUES(1,'d1',500,0,0,4,'第一段。',5);
INSERT INTO "chunks" VALUES(2,'d1',500,1,5,9,'第二段。',5);
CREATE TABLE documents (
	id VARCHAR NOT NULL, 
	source_name VARCHAR NOT NULL, 
	raw_sha256 VARCHAR NOT NULL, 
	meta JSON, 
	script VARCHAR NOT NULL, 
	text VARCHAR NOT NULL, 
	cleaning JSON, 
	paragraphs JSON, 
	created_at DATETIME NOT NULL, 
	PRIMARY KEY (id)
);
INSERT INTO "documents" VALUES('d1','a.txt','abababababababababababababababababababababababababababababababab','{"title_zh": "\u6807\u9898", "title_en": null, "date": "2024-01-02", "outlet": null, "place": null, "doc_type": null, "source_url": null, "notes": null, "provenance": {}}','simplified','第一段。
第二段。','{"encoding": "utf-8", "chars_raw": 12, "chars_clean": 9, "removed": [], "counts": {}, "input_format": "text"}','[{"id": "p1", "index": 0, "start": 0, "end": 4, "text": "\u7b2c\u4e00\u6bb5\u3002", "is_heading": false, "section": []}, {"id": "p2", "index": 1, "start": 5, "end": 9, "text": "\u7b2c\u4e8c\u6bb5\u3002", "is_heading": false, "section": []}]','2026-12-05 14:20:29.001726');
CREATE TABLE jobs (
	id VARCHAR NOT NULL, 
	doc_id VARCHAR, 
	kind VARCHAR NOT NULL, 
	status VARCHAR NOT NULL, 
	progress JSON, 
	error VARCHAR, 
	created_at DATETIME NOT NULL, 
	updated_at DATETIME NOT NULL, 
	PRIMARY KEY (id)
);
INSERT INTO "jobs" VALUES('de888bf8556d49dbb5ee28e8bd44a512','d1','summary','done','{"done": 1, "total": 1}',NULL,'2026-12-05 14:20:29.024407','2026-12-05 14:20:29.035968');
CREATE TABLE schema_version (
	version INTEGER NOT NULL, 
	applied_at DATETIME NOT NULL, 
	PRIMARY KEY (version)
);
INSERT INTO "schema_version" VALUES(1,'2026-12-05 14:20:28.988422');
CREATE INDEX ix_cache_task ON cache (task);
CREATE INDEX ix_cache_created_at ON cache (created_at);
CREATE INDEX ix_cache_model ON cache (model);
CREATE INDEX ix_cache_prompt_id ON cache (prompt_id);
CREATE INDEX ix_calls_cache_key ON calls (cache_key);
CREATE INDEX ix_calls_outcome ON calls (outcome);
CREATE INDEX ix_chunks_doc_budget ON chunks (doc_id, budget);
CREATE INDEX ix_artifacts_doc_id ON artifacts (doc_id);
CREATE INDEX ix_jobs_doc_id ON jobs (doc_id);
COMMIT;
