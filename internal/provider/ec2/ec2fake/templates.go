package ec2fake

import (
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// LaunchTemplate is a launch template: what a fleet's instances start
// from. Every version of it is alike.
type LaunchTemplate struct {
	ID   string // "lt-" and 17 hex digits; made when empty
	Name string
	// InstanceType is the type of an instance whose fleet override names
	// none.
	InstanceType string
	// HTTPTokens ("optional" or "required", default "optional") and
	// HopLimit (default 1) are the instance metadata options of the
	// instances launched from it.
	HTTPTokens string
	HopLimit   int32
	// NoMetadataOptions makes the template set none: its instances take
	// the image's defaults, which DescribeLaunchTemplateVersions does not
	// show.
	NoMetadataOptions bool
	LatestVersion     int64 // default 1
	DefaultVersion    int64 // default 1
	Tags              map[string]string
	Created           time.Time // set by PutLaunchTemplate
}

// PutLaunchTemplate creates lt, or replaces the template of the same id or
// name, and returns it with its defaults filled in.
func (f *Fake) PutLaunchTemplate(lt LaunchTemplate) LaunchTemplate {
	f.mu.Lock()
	defer f.mu.Unlock()
	if lt.HTTPTokens == "" {
		lt.HTTPTokens = "optional"
	}
	if lt.HopLimit == 0 {
		lt.HopLimit = 1
	}
	lt.LatestVersion = max(lt.LatestVersion, 1)
	lt.DefaultVersion = min(max(lt.DefaultVersion, 1), lt.LatestVersion)
	lt.Created = f.cfg.Clock()
	for i, old := range f.templates {
		if old.ID == lt.ID || old.Name == lt.Name {
			lt.ID, lt.Created = old.ID, old.Created
			f.templates[i] = &lt
			return lt
		}
	}
	if lt.ID == "" {
		lt.ID = f.newID("lt-")
	}
	f.templates = append(f.templates, &lt)
	return lt
}

// templateByID and templateByName return a template or nil. f.mu must be
// held.
func (f *Fake) templateByID(id string) *LaunchTemplate {
	for _, lt := range f.templates {
		if lt.ID == id {
			return lt
		}
	}
	return nil
}

func (f *Fake) templateByName(name string) *LaunchTemplate {
	for _, lt := range f.templates {
		if lt.Name == name {
			return lt
		}
	}
	return nil
}

// resolveTemplate returns the template and version that a
// LaunchTemplateSpecification (LaunchTemplateId or LaunchTemplateName, and
// Version) names. f.mu must be held.
func (f *Fake) resolveTemplate(spec params) (*LaunchTemplate, int64, error) {
	id, name := spec.get("LaunchTemplateId"), spec.get("LaunchTemplateName")
	var lt *LaunchTemplate
	switch {
	case id != "" && name != "":
		return nil, 0, badRequest("InvalidParameterCombination", "Specify either a launch template ID or a launch template name, not both")
	case id != "":
		if !validID(id, "lt-") {
			return nil, 0, badRequest("InvalidLaunchTemplateId.Malformed", "The specified ID for the launch template (%s) is not valid.", id)
		}
		if lt = f.templateByID(id); lt == nil {
			return nil, 0, badRequest("InvalidLaunchTemplateId.NotFound", "The specified launch template, with template ID %s, does not exist.", id)
		}
	case name != "":
		if lt = f.templateByName(name); lt == nil {
			return nil, 0, badRequest("InvalidLaunchTemplateName.NotFoundException", "The specified launch template, with template name %s, does not exist.", name)
		}
	default:
		return nil, 0, missing(spec.base + "LaunchTemplateId or " + spec.base + "LaunchTemplateName")
	}
	v := spec.get("Version")
	switch v {
	case "", "$Default":
		return lt, lt.DefaultVersion, nil
	case "$Latest":
		return lt, lt.LatestVersion, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 1 || n > lt.LatestVersion {
		return nil, 0, badRequest("InvalidLaunchTemplateId.VersionNotFound", "Could not find launch template version %s for launch template %s.", v, lt.ID)
	}
	return lt, n, nil
}

type describeLaunchTemplatesResponse struct {
	meta
	Templates []launchTemplateXML `xml:"launchTemplates>item"`
	NextToken string              `xml:"nextToken,omitempty"`
}

type launchTemplateXML struct {
	ID             string   `xml:"launchTemplateId"`
	Name           string   `xml:"launchTemplateName"`
	CreateTime     string   `xml:"createTime"`
	CreatedBy      string   `xml:"createdBy"`
	DefaultVersion int64    `xml:"defaultVersionNumber"`
	LatestVersion  int64    `xml:"latestVersionNumber"`
	Tags           []tagXML `xml:"tagSet>item"`
}

func (f *Fake) describeLaunchTemplates(p params, now time.Time) (any, error) {
	filters, err := p.filters(func(n string) bool { return n == "launch-template-name" || strings.HasPrefix(n, "tag:") })
	if err != nil {
		return nil, err
	}
	pg, err := p.page(1, 200, 0)
	if err != nil {
		return nil, err
	}
	ids, names := p.strings("LaunchTemplateId"), p.strings("LaunchTemplateName")
	var list []*LaunchTemplate
	for _, id := range ids {
		if !validID(id, "lt-") {
			return nil, badRequest("InvalidLaunchTemplateId.Malformed", "The specified ID for the launch template (%s) is not valid.", id)
		}
		lt := f.templateByID(id)
		if lt == nil {
			return nil, badRequest("InvalidLaunchTemplateId.NotFound", "At least one of the launch templates specified in the request does not exist.")
		}
		list = append(list, lt)
	}
	for _, name := range names {
		lt := f.templateByName(name)
		if lt == nil {
			return nil, badRequest("InvalidLaunchTemplateName.NotFoundException", "At least one of the launch templates specified in the request does not exist.")
		}
		list = append(list, lt)
	}
	if len(ids)+len(names) == 0 {
		list = slices.Clone(f.templates)
	}
	slices.SortFunc(list, func(a, b *LaunchTemplate) int { return strings.Compare(a.ID, b.ID) })
	list = slices.Compact(list)
	list = slices.DeleteFunc(list, func(lt *LaunchTemplate) bool {
		return !matchAll(filters, func(name string) []string {
			if name == "launch-template-name" {
				return []string{lt.Name}
			}
			return tagValues(lt.Tags, name)
		})
	})
	list, next := paginate(list, func(lt *LaunchTemplate) string { return lt.ID }, pg)
	resp := &describeLaunchTemplatesResponse{NextToken: next}
	for _, lt := range list {
		resp.Templates = append(resp.Templates, launchTemplateXML{
			ID: lt.ID, Name: lt.Name, CreateTime: formatTime(lt.Created),
			CreatedBy:      fmt.Sprintf("arn:aws:iam::%s:root", f.cfg.AccountID),
			DefaultVersion: lt.DefaultVersion, LatestVersion: lt.LatestVersion,
			Tags: tagsXML(lt.Tags),
		})
	}
	return resp, nil
}

// tagValues returns what the filter name compares among tags: the value
// of KEY for "tag:KEY", the keys for "tag-key", the values for
// "tag-value".
func tagValues(tags map[string]string, name string) []string {
	switch name {
	case "tag-key":
		return sortedKeys(tags)
	case "tag-value":
		var out []string
		for _, k := range sortedKeys(tags) {
			out = append(out, tags[k])
		}
		return out
	}
	if v, ok := tags[strings.TrimPrefix(name, "tag:")]; ok {
		return []string{v}
	}
	return nil
}

type describeLaunchTemplateVersionsResponse struct {
	meta
	Versions []launchTemplateVersionXML `xml:"launchTemplateVersionSet>item"`
}

type launchTemplateVersionXML struct {
	ID             string             `xml:"launchTemplateId"`
	Name           string             `xml:"launchTemplateName"`
	VersionNumber  int64              `xml:"versionNumber"`
	DefaultVersion bool               `xml:"defaultVersion"`
	CreateTime     string             `xml:"createTime"`
	Data           launchTemplateData `xml:"launchTemplateData"`
}

type launchTemplateData struct {
	InstanceType string              `xml:"instanceType,omitempty"`
	Metadata     *metadataOptionsXML `xml:"metadataOptions,omitempty"`
}

type metadataOptionsXML struct {
	HTTPTokens   string `xml:"httpTokens"`
	HopLimit     int32  `xml:"httpPutResponseHopLimit"`
	HTTPEndpoint string `xml:"httpEndpoint"`
	State        string `xml:"state"`
}

// describeLaunchTemplateVersions answers for one template, by
// LaunchTemplateId or LaunchTemplateName, the versions LaunchTemplateVersion.N
// names ($Default, $Latest or numbers; all when none). Every version has the
// template's metadata options; a template put with no HTTPTokens has none,
// as a template that leaves them to the image's defaults.
func (f *Fake) describeLaunchTemplateVersions(p params, _ time.Time) (any, error) {
	// The request's Version is the API's, not a template's.
	lt, _, err := f.resolveTemplate(params{form: url.Values{"LaunchTemplateId": {p.get("LaunchTemplateId")},
		"LaunchTemplateName": {p.get("LaunchTemplateName")}}})
	if err != nil {
		return nil, err
	}
	want := p.strings("LaunchTemplateVersion")
	var versions []int64
	for _, v := range want {
		_, n, err := f.resolveTemplate(params{form: url.Values{"LaunchTemplateId": {lt.ID}, "Version": {v}}})
		if err != nil {
			return nil, err
		}
		versions = append(versions, n)
	}
	if len(want) == 0 {
		for n := int64(1); n <= lt.LatestVersion; n++ {
			versions = append(versions, n)
		}
	}
	resp := &describeLaunchTemplateVersionsResponse{}
	for _, n := range versions {
		v := launchTemplateVersionXML{ID: lt.ID, Name: lt.Name, VersionNumber: n, DefaultVersion: n == lt.DefaultVersion,
			CreateTime: formatTime(lt.Created), Data: launchTemplateData{InstanceType: lt.InstanceType}}
		if !lt.NoMetadataOptions {
			v.Data.Metadata = &metadataOptionsXML{HTTPTokens: lt.HTTPTokens, HopLimit: lt.HopLimit, HTTPEndpoint: "enabled", State: "applied"}
		}
		resp.Versions = append(resp.Versions, v)
	}
	return resp, nil
}
