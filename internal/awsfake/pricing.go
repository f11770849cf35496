package awsfake

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
)

// Pricing is a fake of the AWS Price List API's GetProducts (AWS JSON 1.1,
// X-Amz-Target AWSPriceListService.GetProducts) for EC2's Linux on-demand
// prices: each product is a JSON document, as a string, with the
// product's attributes and its OnDemand terms.
type Pricing struct {
	jsonService

	// mu guards prices.
	mu     sync.Mutex
	prices map[[2]string]float64 // (instance type, region code) → USD per hour
}

// NewPricing returns a fake with no prices.
func NewPricing() *Pricing {
	return &Pricing{jsonService: jsonService{target: "AWSPriceListService"}, prices: map[[2]string]float64{}}
}

// SetOnDemand sets the Linux on-demand price of typ in region.
func (p *Pricing) SetOnDemand(typ, region string, usdPerHour float64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.prices[[2]string{typ, region}] = usdPerHour
}

// ServeHTTP implements http.Handler.
func (p *Pricing) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p.serve(w, r, func(op string, in map[string]any) (any, *APIError) {
		if op != "GetProducts" {
			return nil, &APIError{Status: 400, Code: "UnknownOperationException", Message: "the fake serves GetProducts only"}
		}
		return p.getProducts(in)
	})
}

func (p *Pricing) getProducts(in map[string]any) (any, *APIError) {
	if str(in, "ServiceCode") != "AmazonEC2" {
		return nil, &APIError{Status: 400, Code: "InvalidParameterException", Message: "Input ServiceCode " + str(in, "ServiceCode") + " is not valid."}
	}
	filters, _ := in["Filters"].([]any)
	attrs := map[string]string{}
	for _, f := range filters {
		m, _ := f.(map[string]any)
		if str(m, "Type") != "TERM_MATCH" {
			return nil, &APIError{Status: 400, Code: "InvalidParameterException", Message: "Filter type " + str(m, "Type") + " is not valid."}
		}
		attrs[str(m, "Field")] = str(m, "Value")
	}
	out := map[string]any{"FormatVersion": "aws_v1", "PriceList": []string{}}
	// Only the Linux, shared-tenancy, no-software, used-capacity product of
	// a type has the plain on-demand price; a filter that asks for another
	// matches nothing here.
	for k, want := range map[string]string{"operatingSystem": "Linux", "tenancy": "Shared", "preInstalledSw": "NA", "capacitystatus": "Used"} {
		if v, ok := attrs[k]; ok && v != want {
			return out, nil
		}
	}
	p.mu.Lock()
	price, ok := p.prices[[2]string{attrs["instanceType"], attrs["regionCode"]}]
	p.mu.Unlock()
	if !ok {
		return out, nil
	}
	sku := fmt.Sprintf("FAKE%08X", len(attrs["instanceType"])*7919+len(attrs["regionCode"]))
	doc := map[string]any{
		"product": map[string]any{"productFamily": "Compute Instance", "sku": sku, "attributes": map[string]string{
			"instanceType": attrs["instanceType"], "regionCode": attrs["regionCode"], "operatingSystem": "Linux",
			"tenancy": "Shared", "preInstalledSw": "NA", "capacitystatus": "Used", "servicecode": "AmazonEC2"}},
		"serviceCode": "AmazonEC2",
		"terms": map[string]any{"OnDemand": map[string]any{sku + ".JRTCKXETXF": map[string]any{
			"sku": sku, "offerTermCode": "JRTCKXETXF", "effectiveDate": "2026-11-01T00:00:00Z",
			"priceDimensions": map[string]any{sku + ".JRTCKXETXF.6YS6EN2CT7": map[string]any{
				"unit": "Hrs", "description": fmt.Sprintf("$%.4f per On Demand Linux %s Instance Hour", price, attrs["instanceType"]),
				"pricePerUnit": map[string]string{"USD": fmt.Sprintf("%.10f", price)}}}}}},
	}
	b, err := json.Marshal(doc)
	if err != nil {
		return nil, &APIError{Status: 500, Code: "InternalErrorException", Message: err.Error()}
	}
	out["PriceList"] = []string{string(b)}
	return out, nil
}
