package ec2fake

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"time"
)

// productDescription is the one product the fake prices: Linux.
const productDescription = "Linux/UNIX"

type priceKey struct {
	typ, zone string
	market    Market
}

type pricePoint struct {
	at    time.Time
	price float64
}

// SetPrice sets the price of typ in zone and market from now on, in USD an
// hour. Spot price changes make the history DescribeSpotPriceHistory tells.
func (f *Fake) SetPrice(typ, zone string, m Market, price float64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	k := priceKey{typ, zone, m}
	f.prices[k] = append(f.prices[k], pricePoint{f.cfg.Clock(), price})
}

// Price returns the price of typ in zone and market now; false if typ is
// not on offer.
func (f *Fake) Price(typ, zone string, m Market) (float64, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.types[typ]; !ok {
		return 0, false
	}
	return f.price(typ, zone, m, f.cfg.Clock()), true
}

// history returns the price changes of typ in zone and market, oldest
// first: the default price from the fake's start, then SetPrice's. f.mu
// must be held.
func (f *Fake) history(typ, zone string, m Market) []pricePoint {
	t := f.types[typ]
	base := t.OnDemandPrice
	if m == Spot {
		i := max(slices.Index(f.zones, zone), 0)
		base = t.SpotPrice * (1 + float64(i)/10)
	}
	return append([]pricePoint{{f.start, base}}, f.prices[priceKey{typ, zone, m}]...)
}

// price returns the price of typ in zone and market at time at. f.mu must
// be held.
func (f *Fake) price(typ, zone string, m Market, at time.Time) float64 {
	h := f.history(typ, zone, m)
	p := h[0].price
	for _, pt := range h[1:] {
		if pt.at.After(at) {
			break
		}
		p = pt.price
	}
	return p
}

type describeSpotPriceHistoryResponse struct {
	meta
	Prices    []spotPriceXML `xml:"spotPriceHistorySet>item"`
	NextToken string         `xml:"nextToken,omitempty"`
}

type spotPriceXML struct {
	InstanceType       string `xml:"instanceType"`
	ProductDescription string `xml:"productDescription"`
	SpotPrice          string `xml:"spotPrice"`
	Timestamp          string `xml:"timestamp"`
	AvailabilityZone   string `xml:"availabilityZone"`
}

var spotPriceFilters = map[string]bool{"instance-type": true, "availability-zone": true, "product-description": true}

// describeSpotPriceHistory tells, per type and zone, the price changes
// between StartTime and EndTime (now when absent) and the price in effect
// at StartTime, newest first, as EC2 does. Only Linux/UNIX is priced.
func (f *Fake) describeSpotPriceHistory(p params, now time.Time) (any, error) {
	filters, err := p.filters(func(n string) bool { return spotPriceFilters[n] })
	if err != nil {
		return nil, err
	}
	pg, err := p.page(1, 1000, 1000)
	if err != nil {
		return nil, err
	}
	var start, end time.Time
	if s := p.get("StartTime"); s != "" {
		if start, err = parseTime("StartTime", s); err != nil {
			return nil, err
		}
	}
	end = now
	if s := p.get("EndTime"); s != "" {
		if end, err = parseTime("EndTime", s); err != nil {
			return nil, err
		}
	}
	if end.Before(start) {
		return nil, badRequest("InvalidParameterValue", "The start time must be before the end time")
	}
	zones := f.zones
	if z := p.get("AvailabilityZone"); z != "" {
		if !slices.Contains(f.zones, z) {
			return nil, badRequest("InvalidParameterValue", "Invalid availability zone: [%s]", z)
		}
		zones = []string{z}
	}
	types := p.strings("InstanceType")
	if len(types) == 0 {
		types = sortedKeys(f.types)
	}
	if pds := p.strings("ProductDescription"); len(pds) > 0 && !slices.Contains(pds, productDescription) {
		types = nil
	}
	var out []spotPriceXML
	for _, typ := range types {
		if _, ok := f.types[typ]; !ok {
			continue
		}
		for _, zone := range zones {
			for _, pt := range window(f.history(typ, zone, Spot), start, end) {
				x := spotPriceXML{typ, productDescription, strconv.FormatFloat(pt.price, 'f', 6, 64), formatTime(pt.at), zone}
				if matchAll(filters, x.values) {
					out = append(out, x)
				}
			}
		}
	}
	slices.SortStableFunc(out, func(a, b spotPriceXML) int { return cmp.Compare(b.Timestamp, a.Timestamp) })
	type numbered struct {
		key string
		x   spotPriceXML
	}
	list := make([]numbered, len(out))
	for i, x := range out {
		list[i] = numbered{fmt.Sprintf("%08d", i), x}
	}
	list, next := paginate(list, func(n numbered) string { return n.key }, pg)
	resp := &describeSpotPriceHistoryResponse{NextToken: next}
	for _, n := range list {
		resp.Prices = append(resp.Prices, n.x)
	}
	return resp, nil
}

// values are what the filters of DescribeSpotPriceHistory compare.
func (x spotPriceXML) values(name string) []string {
	switch name {
	case "instance-type":
		return []string{x.InstanceType}
	case "availability-zone":
		return []string{x.AvailabilityZone}
	default:
		return []string{x.ProductDescription}
	}
}

// window returns the points of h (oldest first) from start to end, led by
// the one in effect at start.
func window(h []pricePoint, start, end time.Time) []pricePoint {
	var out []pricePoint
	for i, pt := range h {
		if pt.at.After(end) {
			break
		}
		inEffect := i+1 == len(h) || h[i+1].at.After(start)
		if !pt.at.Before(start) || inEffect {
			out = append(out, pt)
		}
	}
	return out
}
