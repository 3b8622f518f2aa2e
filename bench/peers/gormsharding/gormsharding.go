// Package gormsharding is the GORM variant of the benchmark workload: the
// items table sharded by user_id with gorm.io/sharding, configured as its
// README says.
//
// gorm.io/sharding shards a table into suffixed tables inside one database
// (items_00 ... items_15), not into schemas over several servers: it has
// no notion of more than one server. Its tables therefore live in one
// database on the first of the benchmark's two servers. Rows go to table
// user_id % NumberOfShards (its default algorithm). Its primary keys come
// from the README's recommended generator: Snowflake, whose node number is
// the table's index, so that a row is found by its ID alone; Snowflake
// refuses more than 1,024 shards, so at 4,096 the README's other choice,
// a PostgreSQL sequence, is used, and a row can then only be found with its
// user_id in the query as well (the ID no longer tells the table).
package gormsharding

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/bwmarrin/snowflake"
	"github.com/jackc/pgx/v5"
	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/sharding"
)

// Item is the GORM model of the items table.
type Item struct {
	ID        int64 `gorm:"primaryKey"`
	UserID    int64
	Title     string
	Body      string
	Views     int64
	CreatedAt time.Time
}

// TableName is the logical (unsharded) table name gorm.io/sharding
// rewrites to items_NN.
func (Item) TableName() string { return "items" }

// Store is the GORM data layer of one shard count.
type Store struct {
	// DB is the GORM handle with the sharding plugin registered.
	DB *gorm.DB
	// ByIDAlone reports whether a row can be found by its ID alone
	// (Snowflake keys); otherwise queries by ID also name the user.
	ByIDAlone bool

	sqlDB  *sql.DB
	shards int
	format string // table suffix format, as gorm.io/sharding derives it
}

// Open connects GORM to dsn (a database of its own) with the sharding
// plugin for shards tables, exactly as the plugin's README does it,
// gorm.Open(postgres.New(postgres.Config{DSN: dsn})) with GORM's default
// configuration, and bounds the database/sql pool to maxConns, the same
// bound as the other variants. GORM's defaults include its implicit
// transaction around every single write (Create, Updates): see SkipTx.
func Open(dsn string, shards int, maxConns int) (*Store, error) {
	db, err := gorm.Open(postgres.New(postgres.Config{DSN: dsn}))
	if err != nil {
		return nil, fmt.Errorf("gormsharding: %w", err)
	}
	s := &Store{DB: db, shards: shards, ByIDAlone: shards <= 1024}
	if s.sqlDB, err = db.DB(); err != nil {
		return nil, fmt.Errorf("gormsharding: %w", err)
	}
	s.sqlDB.SetMaxOpenConns(maxConns)
	s.sqlDB.SetMaxIdleConns(maxConns)
	pk := sharding.PKSnowflake
	if !s.ByIDAlone {
		pk = sharding.PKPGSequence
	}
	if err := db.Use(sharding.Register(sharding.Config{
		ShardingKey:         "user_id",
		NumberOfShards:      uint(shards),
		PrimaryKeyGenerator: pk,
	}, Item{})); err != nil {
		s.Close()
		return nil, fmt.Errorf("gormsharding: registering the plugin: %w", err)
	}
	switch {
	case shards < 10:
		s.format = "_%01d"
	case shards < 100:
		s.format = "_%02d"
	case shards < 1000:
		s.format = "_%03d"
	default:
		s.format = "_%04d"
	}
	return s, nil
}

// SkipTx returns the store with GORM's SkipDefaultTransaction on, which
// the plugin's README does not set: single writes then run without
// GORM's implicit BEGIN and COMMIT, two round trips fewer (GORM's
// performance guide recommends it). It shares s's connections and key
// generators; close s, not the copy.
func (s *Store) SkipTx() *Store {
	c := *s
	c.DB = s.DB.Session(&gorm.Session{SkipDefaultTransaction: true})
	return &c
}

// Close closes the connection pool.
func (s *Store) Close() {
	s.sqlDB.Close()
}

// Table returns the name of table i.
func (s *Store) Table(i int) string { return "items" + fmt.Sprintf(s.format, i) }

// CreateTables creates every sharded table with the same columns and keys
// as shardgen's: a primary key on id and a unique (user_id, id) index for
// listing a user's rows newest first.
func (s *Store) CreateTables(ctx context.Context) error {
	for i := range s.shards {
		t := s.Table(i)
		err := s.DB.WithContext(ctx).Exec(`CREATE TABLE ` + t + ` (
	id bigint PRIMARY KEY,
	user_id bigint NOT NULL,
	title text NOT NULL,
	body text NOT NULL,
	views bigint NOT NULL,
	created_at timestamptz NOT NULL,
	UNIQUE (user_id, id))`).Error
		if err != nil {
			return fmt.Errorf("gormsharding: creating %s: %w", t, err)
		}
	}
	return nil
}

// Load inserts perUser rows for each user into its table, with keys from
// the configured generator (a Snowflake node per table, or the plugin's
// sequence), like the rows Create makes, and returns (id, user) of every
// row. It writes through pgx directly: loading is not measured.
func (s *Store) Load(ctx context.Context, dsn string, users []int64, perUser int, body string, created time.Time) ([][2]int64, error) {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return nil, err
	}
	defer conn.Close(ctx)
	var nodes []*snowflake.Node
	if s.ByIDAlone {
		for i := range s.shards {
			n, err := snowflake.NewNode(int64(i))
			if err != nil {
				return nil, err
			}
			nodes = append(nodes, n)
		}
	}
	batch := &pgx.Batch{}
	for _, u := range users {
		idx := int(u % int64(s.shards))
		cols := `SELECT id, $1::bigint, 'item ' || i, $2, 0, $3::timestamptz - i * interval '1 minute' FROM `
		if s.ByIDAlone {
			ids := make([]int64, perUser)
			for i := range ids {
				ids[i] = nodes[idx].Generate().Int64()
			}
			batch.Queue(`INSERT INTO `+s.Table(idx)+` (id, user_id, title, body, views, created_at) `+cols+
				`unnest($4::bigint[]) WITH ORDINALITY AS t(id, i) RETURNING id, user_id`, u, body, created, ids)
		} else {
			batch.Queue(`INSERT INTO `+s.Table(idx)+` (id, user_id, title, body, views, created_at) `+cols+
				`(SELECT nextval('gorm_sharding_items_id_seq') AS id, i FROM generate_series(1, $4) AS i) AS t RETURNING id, user_id`, u, body, created, perUser)
		}
	}
	var refs [][2]int64
	br := conn.SendBatch(ctx, batch)
	for range batch.Len() {
		rows, err := br.Query()
		if err != nil {
			br.Close()
			return nil, err
		}
		for rows.Next() {
			var r [2]int64
			if err := rows.Scan(&r[0], &r[1]); err != nil {
				rows.Close()
				br.Close()
				return nil, err
			}
			refs = append(refs, r)
		}
		if err := rows.Err(); err != nil {
			br.Close()
			return nil, err
		}
	}
	if err := br.Close(); err != nil {
		return nil, err
	}
	_, err = conn.Exec(ctx, "ANALYZE")
	return refs, err
}

// ErrNotFound is returned when no row matches.
var ErrNotFound = errors.New("gormsharding: not found")

// byID scopes a query to the row id of user: by the ID alone where the
// keys allow it, else with the sharding key too.
func (s *Store) byID(db *gorm.DB, id, user int64) *gorm.DB {
	if s.ByIDAlone {
		return db.Where("id = ?", id)
	}
	return db.Where("user_id = ? AND id = ?", user, id)
}

// Insert creates it (its ID set by the plugin's generator).
func (s *Store) Insert(ctx context.Context, it *Item) error {
	it.ID = 0
	return s.DB.WithContext(ctx).Create(it).Error
}

// Get reads the row id of user.
func (s *Store) Get(ctx context.Context, id, user int64) (*Item, error) {
	it := new(Item)
	err := s.byID(s.DB.WithContext(ctx), id, user).Take(it).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, ErrNotFound
	}
	return it, err
}

// List returns the newest limit rows of user.
func (s *Store) List(ctx context.Context, user int64, limit int) ([]Item, error) {
	var items []Item
	err := s.DB.WithContext(ctx).Where("user_id = ?", user).Order("id DESC").Limit(limit).Find(&items).Error
	return items, err
}

// updated lists the columns Update writes: all but the ID and the key.
var updated = []string{"title", "body", "views", "created_at"}

// Update writes it over its row, matching on ID and user as the other
// variants do.
func (s *Store) Update(ctx context.Context, it *Item) error {
	return update(s.DB.WithContext(ctx), it)
}

func update(db *gorm.DB, it *Item) error {
	res := db.Model(it).Where("user_id = ?", it.UserID).Select(updated).Updates(it)
	if res.Error != nil {
		return res.Error
	}
	if res.RowsAffected == 0 {
		return ErrNotFound
	}
	return nil
}

// GetUpdateInsert is the workload's transaction: read row id of user,
// write it back with one more view, insert fresh for the same user.
func (s *Store) GetUpdateInsert(ctx context.Context, id, user int64, fresh *Item) error {
	return s.DB.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var it Item
		if err := s.byID(tx, id, user).Take(&it).Error; err != nil {
			return err
		}
		it.Views++
		if err := update(tx, &it); err != nil {
			return err
		}
		fresh.ID = 0
		fresh.UserID = user
		return tx.Create(fresh).Error
	})
}

// Count counts the rows of every table by hand, one query per table: the
// plugin refuses a query without the sharding key (ErrMissingShardingKey),
// so it offers no fan-out. Used only to check the other operations.
func (s *Store) Count(ctx context.Context) (int64, error) {
	var total int64
	for i := range s.shards {
		var n int64
		if err := s.DB.WithContext(ctx).Raw("SELECT count(*) FROM " + s.Table(i) + " /* nosharding */").Scan(&n).Error; err != nil {
			return 0, err
		}
		total += n
	}
	return total, nil
}
