package pgtest

import (
	"context"
	"database/sql"
	"os"
	"testing"
)

func TestMain(m *testing.M) { os.Exit(Main(m)) }

func TestURLGivesAnEmptyDatabase(t *testing.T) {
	u := URL(t)
	db, err := sql.Open("pgx", u)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int
	if err := db.QueryRowContext(context.Background(),
		`SELECT count(*) FROM information_schema.tables WHERE table_schema = current_schema()`).Scan(&n); err != nil || n != 0 {
		t.Errorf("tables in a new database = %d, %v; want 0", n, err)
	}
	if u2 := URL(t); u2 == u {
		t.Errorf("URL twice = %s both times, want two", u)
	}
}
