package ec2fake

import (
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Subnet is a subnet of a VPC, in one zone.
type Subnet struct {
	ID   string // made when empty
	Zone string // default the first zone; a zone the fake lacks is added
	// VPC defaults to one non-default VPC shared by the subnets added
	// without one.
	VPC          string
	CIDR         string // default 10.0.N.0/24
	DefaultForAZ bool   // the default subnet of its zone, in the default VPC
}

// subnet is what the fake keeps of a subnet.
type subnet struct {
	Subnet
	used int // addresses handed out
}

// AddSubnet adds s and returns it with its defaults filled in.
func (f *Fake) AddSubnet(s Subnet) Subnet {
	f.mu.Lock()
	defer f.mu.Unlock()
	if s.ID == "" {
		s.ID = f.newID("subnet-")
	}
	if s.Zone == "" {
		s.Zone = f.zones[0]
	}
	if !slices.Contains(f.zones, s.Zone) {
		f.zones = append(f.zones, s.Zone)
	}
	if s.VPC == "" {
		if f.vpc == "" {
			f.vpc = f.newID("vpc-")
		}
		s.VPC = f.vpc
	}
	if s.CIDR == "" {
		s.CIDR = fmt.Sprintf("10.0.%d.0/24", len(f.subnets))
	}
	f.subnets = append(f.subnets, &subnet{Subnet: s})
	return s
}

// Subnets returns the subnets, default ones first.
func (f *Fake) Subnets() []Subnet {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []Subnet
	for _, s := range f.subnets {
		out = append(out, s.Subnet)
	}
	return out
}

// subnet returns the subnet id, or nil. f.mu must be held.
func (f *Fake) subnet(id string) *subnet {
	for _, s := range f.subnets {
		if s.ID == id {
			return s
		}
	}
	return nil
}

// defaultSubnet returns the default subnet of zone, or nil. f.mu must be
// held.
func (f *Fake) defaultSubnet(zone string) *subnet {
	for _, s := range f.subnets {
		if s.DefaultForAZ && s.Zone == zone {
			return s
		}
	}
	return nil
}

// size returns how many addresses s has for instances: AWS keeps five of
// every subnet's.
func (s *subnet) size() int {
	pfx, err := netip.ParsePrefix(s.CIDR)
	if err != nil || !pfx.Addr().Is4() {
		return 0
	}
	return 1<<(32-pfx.Bits()) - 5
}

// nextIP hands out the next private address of s, the fifth of its range
// first, as AWS keeps the first four; "" when the subnet is full.
func (s *subnet) nextIP() string {
	pfx, err := netip.ParsePrefix(s.CIDR)
	if err != nil || s.used >= s.size() {
		return ""
	}
	a := pfx.Masked().Addr().As4()
	n := uint32(a[0])<<24 | uint32(a[1])<<16 | uint32(a[2])<<8 | uint32(a[3])
	n += uint32(4 + s.used)
	s.used++
	return netip.AddrFrom4([4]byte{byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)}).String()
}

type describeSubnetsResponse struct {
	meta
	Subnets   []subnetXML `xml:"subnetSet>item"`
	NextToken string      `xml:"nextToken,omitempty"`
}

type subnetXML struct {
	SubnetID                string `xml:"subnetId"`
	SubnetArn               string `xml:"subnetArn"`
	State                   string `xml:"state"`
	OwnerID                 string `xml:"ownerId"`
	VPCID                   string `xml:"vpcId"`
	CIDRBlock               string `xml:"cidrBlock"`
	AvailableIPAddressCount int    `xml:"availableIpAddressCount"`
	AvailabilityZone        string `xml:"availabilityZone"`
	DefaultForAZ            bool   `xml:"defaultForAz"`
	MapPublicIPOnLaunch     bool   `xml:"mapPublicIpOnLaunch"`
}

var subnetFilters = map[string]func(s *subnet) string{
	"subnet-id":         func(s *subnet) string { return s.ID },
	"vpc-id":            func(s *subnet) string { return s.VPC },
	"availability-zone": func(s *subnet) string { return s.Zone },
	"default-for-az":    func(s *subnet) string { return strconv.FormatBool(s.DefaultForAZ) },
	"cidr-block":        func(s *subnet) string { return s.CIDR },
	"state":             func(*subnet) string { return "available" },
}

func (f *Fake) describeSubnets(p params, now time.Time) (any, error) {
	filters, err := p.filters(func(n string) bool { return subnetFilters[n] != nil })
	if err != nil {
		return nil, err
	}
	pg, err := p.page(5, 1000, 0)
	if err != nil {
		return nil, err
	}
	ids := p.strings("SubnetId")
	var list []*subnet
	if len(ids) > 0 {
		var unknown []string
		for _, id := range ids {
			if s := f.subnet(id); s != nil {
				list = append(list, s)
			} else {
				unknown = append(unknown, id)
			}
		}
		if len(unknown) > 0 {
			return nil, notFound("InvalidSubnetID.NotFound", "subnet ID", unknown)
		}
	} else {
		list = slices.Clone(f.subnets)
	}
	slices.SortFunc(list, func(a, b *subnet) int { return strings.Compare(a.ID, b.ID) })
	list = slices.CompactFunc(list, func(a, b *subnet) bool { return a == b })
	list = slices.DeleteFunc(list, func(s *subnet) bool {
		return !matchAll(filters, func(name string) []string { return []string{subnetFilters[name](s)} })
	})
	list, next := paginate(list, func(s *subnet) string { return s.ID }, pg)
	resp := &describeSubnetsResponse{NextToken: next}
	for _, s := range list {
		resp.Subnets = append(resp.Subnets, subnetXML{
			SubnetID:                s.ID,
			SubnetArn:               fmt.Sprintf("arn:aws:ec2:%s:%s:subnet/%s", f.cfg.Region, f.cfg.AccountID, s.ID),
			State:                   "available",
			OwnerID:                 f.cfg.AccountID,
			VPCID:                   s.VPC,
			CIDRBlock:               s.CIDR,
			AvailableIPAddressCount: s.size() - s.used,
			AvailabilityZone:        s.Zone,
			DefaultForAZ:            s.DefaultForAZ,
			MapPublicIPOnLaunch:     s.DefaultForAZ,
		})
	}
	return resp, nil
}

// notFound returns EC2's error for ids of a kind (say "subnet ID") that do
// not exist: "The subnet ID 'subnet-1' does not exist", or "The subnet IDs
// 'subnet-1, subnet-2' do not exist".
func notFound(code, kind string, ids []string) *apiError {
	if len(ids) == 1 {
		return badRequest(code, "The %s '%s' does not exist", kind, ids[0])
	}
	return badRequest(code, "The %ss '%s' do not exist", kind, strings.Join(ids, ", "))
}
