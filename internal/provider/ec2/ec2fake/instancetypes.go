package ec2fake

import (
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// InstanceType is an instance type on offer.
type InstanceType struct {
	Name      string
	VCPUs     int32
	MemoryMiB int64
	Arch      string // "x86_64" (default) or "arm64"
	// OnDemandPrice is the price in USD an hour, in every zone unless
	// SetPrice says otherwise.
	OnDemandPrice float64
	// SpotPrice is the Spot price in the first zone, in USD an hour; in
	// the zone of index i it is (1 + i/10) times that, until SetPrice says
	// otherwise. Default 30% of OnDemandPrice.
	SpotPrice float64
}

func (t InstanceType) withDefaults() InstanceType {
	if t.Arch == "" {
		t.Arch = "x86_64"
	}
	if t.SpotPrice == 0 {
		t.SpotPrice = math.Round(t.OnDemandPrice*0.3*1e4) / 1e4
	}
	return t
}

// DefaultInstanceTypes returns the types a Fake offers unless its Config
// names others: a few current general-purpose, compute and memory types
// at their us-east-1 Linux on-demand prices.
func DefaultInstanceTypes() []InstanceType {
	return []InstanceType{
		{Name: "t3.micro", VCPUs: 2, MemoryMiB: 1024, OnDemandPrice: 0.0104},
		{Name: "m5.large", VCPUs: 2, MemoryMiB: 8192, OnDemandPrice: 0.096},
		{Name: "m5.xlarge", VCPUs: 4, MemoryMiB: 16384, OnDemandPrice: 0.192},
		{Name: "m5.2xlarge", VCPUs: 8, MemoryMiB: 32768, OnDemandPrice: 0.384},
		{Name: "c5.large", VCPUs: 2, MemoryMiB: 4096, OnDemandPrice: 0.085},
		{Name: "c5.xlarge", VCPUs: 4, MemoryMiB: 8192, OnDemandPrice: 0.17},
		{Name: "r5.large", VCPUs: 2, MemoryMiB: 16384, OnDemandPrice: 0.126},
		{Name: "m6g.large", VCPUs: 2, MemoryMiB: 8192, Arch: "arm64", OnDemandPrice: 0.077},
		{Name: "c6g.large", VCPUs: 2, MemoryMiB: 4096, Arch: "arm64", OnDemandPrice: 0.068},
	}
}

// SetInstanceType offers t, or changes it if it is offered already.
func (f *Fake) SetInstanceType(t InstanceType) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.types[t.Name] = t.withDefaults()
}

type describeInstanceTypesResponse struct {
	meta
	InstanceTypes []instanceTypeXML `xml:"instanceTypeSet>item"`
	NextToken     string            `xml:"nextToken,omitempty"`
}

type instanceTypeXML struct {
	InstanceType                 string   `xml:"instanceType"`
	CurrentGeneration            bool     `xml:"currentGeneration"`
	BareMetal                    bool     `xml:"bareMetal"`
	Hypervisor                   string   `xml:"hypervisor"`
	SupportedUsageClasses        []string `xml:"supportedUsageClasses>item"`
	SupportedRootDeviceTypes     []string `xml:"supportedRootDeviceTypes>item"`
	SupportedVirtualizationTypes []string `xml:"supportedVirtualizationTypes>item"`
	ProcessorInfo                struct {
		SupportedArchitectures []string `xml:"supportedArchitectures>item"`
	} `xml:"processorInfo"`
	VCPUInfo struct {
		DefaultVCPUs          int32 `xml:"defaultVCpus"`
		DefaultCores          int32 `xml:"defaultCores"`
		DefaultThreadsPerCore int32 `xml:"defaultThreadsPerCore"`
	} `xml:"vCpuInfo"`
	MemoryInfo struct {
		SizeInMiB int64 `xml:"sizeInMiB"`
	} `xml:"memoryInfo"`
}

func typeXML(t InstanceType) instanceTypeXML {
	x := instanceTypeXML{
		InstanceType:                 t.Name,
		CurrentGeneration:            true,
		Hypervisor:                   "nitro",
		SupportedUsageClasses:        []string{string(OnDemand), string(Spot)},
		SupportedRootDeviceTypes:     []string{"ebs"},
		SupportedVirtualizationTypes: []string{"hvm"},
	}
	x.ProcessorInfo.SupportedArchitectures = []string{t.Arch}
	threads := int32(2)
	if t.Arch == "arm64" || t.VCPUs < 2 {
		threads = 1
	}
	x.VCPUInfo.DefaultVCPUs = t.VCPUs
	x.VCPUInfo.DefaultCores = t.VCPUs / threads
	x.VCPUInfo.DefaultThreadsPerCore = threads
	x.MemoryInfo.SizeInMiB = t.MemoryMiB
	return x
}

// instanceTypeFilters are the filters of DescribeInstanceTypes the fake
// knows, each with what it compares.
var instanceTypeFilters = map[string]func(t InstanceType) []string{
	"instance-type":                         func(t InstanceType) []string { return []string{t.Name} },
	"processor-info.supported-architecture": func(t InstanceType) []string { return []string{t.Arch} },
	"vcpu-info.default-vcpus":               func(t InstanceType) []string { return []string{strconv.Itoa(int(t.VCPUs))} },
	"memory-info.size-in-mib":               func(t InstanceType) []string { return []string{strconv.FormatInt(t.MemoryMiB, 10)} },
	"supported-usage-class":                 func(InstanceType) []string { return []string{string(OnDemand), string(Spot)} },
	"current-generation":                    func(InstanceType) []string { return []string{"true"} },
}

func (f *Fake) describeInstanceTypes(p params, now time.Time) (any, error) {
	filters, err := p.filters(func(n string) bool { return instanceTypeFilters[n] != nil })
	if err != nil {
		return nil, err
	}
	pg, err := p.page(5, 100, 100)
	if err != nil {
		return nil, err
	}
	names := p.strings("InstanceType")
	var unknown []string
	for _, n := range names {
		if _, ok := f.types[n]; !ok {
			unknown = append(unknown, n)
		}
	}
	if len(unknown) > 0 {
		return nil, badRequest("InvalidInstanceType", "The following supplied instance types do not exist: [%s]", strings.Join(unknown, ", "))
	}
	if len(names) == 0 {
		names = sortedKeys(f.types)
	}
	slices.Sort(names)
	names = slices.Compact(names)
	var list []InstanceType
	for _, n := range names {
		t := f.types[n]
		if matchAll(filters, func(name string) []string { return instanceTypeFilters[name](t) }) {
			list = append(list, t)
		}
	}
	list, next := paginate(list, func(t InstanceType) string { return t.Name }, pg)
	resp := &describeInstanceTypesResponse{NextToken: next}
	for _, t := range list {
		resp.InstanceTypes = append(resp.InstanceTypes, typeXML(t))
	}
	return resp, nil
}

// matchAll reports whether every filter matches one of the values that
// values returns for its name.
func matchAll(filters []filter, values func(name string) []string) bool {
	for _, fl := range filters {
		if !slices.ContainsFunc(values(fl.name), fl.match) {
			return false
		}
	}
	return true
}
