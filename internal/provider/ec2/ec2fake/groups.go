package ec2fake

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// SecurityGroup is a security group of a VPC.
type SecurityGroup struct {
	ID   string // made when empty
	Name string // default the id
	VPC  string // default the VPC of the subnets added without one
}

// AddSecurityGroup adds g and returns it with its defaults filled in.
func (f *Fake) AddSecurityGroup(g SecurityGroup) SecurityGroup {
	f.mu.Lock()
	defer f.mu.Unlock()
	if g.ID == "" {
		g.ID = f.newID("sg-")
	}
	if g.Name == "" {
		g.Name = g.ID
	}
	if g.VPC == "" {
		if f.vpc == "" {
			f.vpc = f.newID("vpc-")
		}
		g.VPC = f.vpc
	}
	f.groups = append(f.groups, g)
	return g
}

type describeSecurityGroupsResponse struct {
	meta
	Groups []securityGroupXML `xml:"securityGroupInfo>item"`
}

type securityGroupXML struct {
	GroupID   string `xml:"groupId"`
	GroupName string `xml:"groupName"`
	OwnerID   string `xml:"ownerId"`
	VPCID     string `xml:"vpcId"`
	GroupArn  string `xml:"securityGroupArn"`
}

// describeSecurityGroups answers DescribeSecurityGroups by GroupId; an
// unknown id is InvalidGroup.NotFound, as EC2 answers.
func (f *Fake) describeSecurityGroups(p params, _ time.Time) (any, error) {
	ids := p.strings("GroupId")
	var list []SecurityGroup
	var unknown []string
	for _, id := range ids {
		i := slices.IndexFunc(f.groups, func(g SecurityGroup) bool { return g.ID == id })
		if i < 0 {
			unknown = append(unknown, id)
			continue
		}
		list = append(list, f.groups[i])
	}
	if len(unknown) > 0 {
		return nil, notFound("InvalidGroup.NotFound", "security group", unknown)
	}
	if len(ids) == 0 {
		list = slices.Clone(f.groups)
	}
	slices.SortFunc(list, func(a, b SecurityGroup) int { return strings.Compare(a.ID, b.ID) })
	resp := &describeSecurityGroupsResponse{}
	for _, g := range list {
		resp.Groups = append(resp.Groups, securityGroupXML{GroupID: g.ID, GroupName: g.Name, OwnerID: f.cfg.AccountID, VPCID: g.VPC,
			GroupArn: fmt.Sprintf("arn:aws:ec2:%s:%s:security-group/%s", f.cfg.Region, f.cfg.AccountID, g.ID)})
	}
	return resp, nil
}
