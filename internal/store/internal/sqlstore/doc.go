// Package sqlstore is what the SQL implementations of store.Store share,
// whatever their dialect: the column encoding of times (unix nanoseconds,
// NULL for the zero time), the Stats built from the rows of a stats query,
// and the pruning algorithm, which each database serves through [DB].
package sqlstore
