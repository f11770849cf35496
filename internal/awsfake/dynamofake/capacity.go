package dynamofake

import "math"

// Capacity units, as DynamoDB bills them: a read unit is one strongly
// consistent read of up to 4 KB (half a unit when eventually
// consistent), a write unit one write of up to 1 KB, and a transaction
// costs twice either.
const (
	readUnitBytes  = 4096
	writeUnitBytes = 1024
	maxItemBytes   = 400 * 1024
)

func readUnits(size int, consistent bool) float64 {
	u := math.Max(1, math.Ceil(float64(size)/readUnitBytes))
	if !consistent {
		u /= 2
	}
	return u
}

func writeUnits(size int) float64 {
	return math.Max(1, math.Ceil(float64(size)/writeUnitBytes))
}

// usage is the capacity one table's part of a call consumed.
type usage struct {
	table   string
	write   bool
	units   float64            // the table's own
	indexes map[string]float64 // by index name
	local   map[string]bool    // which indexes are local
}

func newUsage(table string, write bool) *usage {
	return &usage{table: table, write: write, indexes: map[string]float64{}, local: map[string]bool{}}
}

func (u *usage) total() float64 {
	t := u.units
	for _, v := range u.indexes {
		t += v
	}
	return t
}

// report is the ConsumedCapacity DynamoDB answers for mode (TOTAL or
// INDEXES), nil for NONE.
func (u *usage) report(mode string) map[string]any {
	if mode != "TOTAL" && mode != "INDEXES" {
		return nil
	}
	total := u.total()
	out := map[string]any{"TableName": u.table, "CapacityUnits": total}
	if u.write {
		out["WriteCapacityUnits"] = total
	} else {
		out["ReadCapacityUnits"] = total
	}
	if mode == "INDEXES" {
		out["Table"] = u.part(u.units)
		gsi, lsi := map[string]any{}, map[string]any{}
		for name, v := range u.indexes {
			if u.local[name] {
				lsi[name] = u.part(v)
			} else {
				gsi[name] = u.part(v)
			}
		}
		if len(gsi) > 0 {
			out["GlobalSecondaryIndexes"] = gsi
		}
		if len(lsi) > 0 {
			out["LocalSecondaryIndexes"] = lsi
		}
	}
	return out
}

func (u *usage) part(v float64) map[string]any {
	if u.write {
		return map[string]any{"CapacityUnits": v, "WriteCapacityUnits": v}
	}
	return map[string]any{"CapacityUnits": v, "ReadCapacityUnits": v}
}

// charge adds u to the request's totals.
func (r *request) charge(u *usage) {
	if u.write {
		r.write += u.total()
	} else {
		r.read += u.total()
	}
}

// writeUsage is the capacity of replacing old with new (either nil) in
// t: the table's units by the larger item, and each index's by what it
// holds of them.
func (t *table) writeUsage(old, new item, factor float64) *usage {
	u := newUsage(t.name, true)
	size := 0
	if old != nil {
		size = old.size()
	}
	if new != nil {
		size = max(size, new.size())
	}
	u.units = writeUnits(size) * factor
	for _, ix := range t.indexes {
		var po, pn item
		if old != nil {
			po = t.projectIndex(ix, old)
		}
		if new != nil {
			pn = t.projectIndex(ix, new)
		}
		var units float64
		switch {
		case po != nil && pn != nil && keyString(po, ix.key) == keyString(pn, ix.key):
			units = writeUnits(max(po.size(), pn.size()))
		default:
			if po != nil {
				units += writeUnits(po.size())
			}
			if pn != nil {
				units += writeUnits(pn.size())
			}
		}
		if units > 0 {
			u.indexes[ix.name] = units * factor
			u.local[ix.name] = !ix.global
		}
	}
	return u
}
