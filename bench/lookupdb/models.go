package lookupdb

// Account has an email unique across every shard of the group.
//
//shardgen:shard accounts key=TenantID
type Account struct {
	ID       int64
	TenantID int64
	Email    string `shardgen:"unique=global"`
	Name     string
}

// PlainAccount is Account without the global unique field.
//
//shardgen:shard accounts key=TenantID
type PlainAccount struct {
	ID       int64
	TenantID int64
	Email    string
	Name     string
}
