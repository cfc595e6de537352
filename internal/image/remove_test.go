package image

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/berth/berth/internal/errdefs"
)

const ctrID = "c0ffee0123456789c0ffee0123456789c0ffee0123456789c0ffee0123456789"

// TestRemoveSemantics walks Docker's rmi rules: each case builds images,
// then runs one Remove and compares the output lines (with <ID>, <BASE> for
// the image IDs) or the error text.
//
// Tag names avoid hex letters: like Docker, an argument that is a prefix of
// the image's ID counts as an ID (moby's isImageIDPrefix).
func TestRemoveSemantics(t *testing.T) {
	type setup struct {
		tags       []string // tags of the main image
		child      string   // tag of a child image committed on it ("-" = untagged child)
		usedBy     string   // "", "stopped", "running"
		remove     string   // the argument; <ID>, <SHORT> are substituted
		force      bool
		noPrune    bool
		want       []string // "Untagged: x" / "Deleted: <ID>"
		wantErr    string
		stillThere bool // the main image survives
	}
	for _, tc := range []struct {
		desc string
		setup
	}{
		{desc: "untag one of two tags", setup: setup{tags: []string{"a:1", "a:2"}, remove: "a:1",
			want: []string{"Untagged: a:1"}, stillThere: true}},
		{desc: "last tag deletes the image", setup: setup{tags: []string{"app"}, remove: "app",
			want: []string{"Untagged: app:latest", "Deleted: <ID>"}}},
		{desc: "full name works too", setup: setup{tags: []string{"app"}, remove: "docker.io/library/app:latest",
			want: []string{"Untagged: app:latest", "Deleted: <ID>"}}},
		{desc: "ID with one tag untags and deletes", setup: setup{tags: []string{"app"}, remove: "<SHORT>",
			want: []string{"Untagged: app:latest", "Deleted: <ID>"}}},
		{desc: "untagged image by ID", setup: setup{remove: "<ID>", want: []string{"Deleted: <ID>"}}},
		{desc: "ID with tags in two repositories needs force", setup: setup{tags: []string{"app", "box"}, remove: "<SHORT>",
			wantErr: "conflict: unable to delete <SHORT> (must be forced) - image is referenced in multiple repositories", stillThere: true}},
		{desc: "forced ID with two repositories", setup: setup{tags: []string{"app", "box"}, remove: "<ID>", force: true,
			want: []string{"Untagged: app:latest", "Untagged: box:latest", "Deleted: <ID>"}}},
		{desc: "only tag of a stopped container's image", setup: setup{tags: []string{"app"}, usedBy: "stopped", remove: "app",
			wantErr: `conflict: unable to remove repository reference "app" (must force) - container c0ffee012345 is using its referenced image <SHORT>`, stillThere: true}},
		{desc: "forced tag of a stopped container's image", setup: setup{tags: []string{"app"}, usedBy: "stopped", remove: "app", force: true,
			want: []string{"Untagged: app:latest", "Deleted: <ID>"}}},
		{desc: "one of two tags while a container uses it", setup: setup{tags: []string{"app", "box"}, usedBy: "running", remove: "box",
			want: []string{"Untagged: box:latest"}, stillThere: true}},
		{desc: "ID of a stopped container's image", setup: setup{tags: []string{"app"}, usedBy: "stopped", remove: "<ID>",
			wantErr: "conflict: unable to delete <SHORT> (must be forced) - image is being used by stopped container c0ffee012345", stillThere: true}},
		{desc: "forced ID of a stopped container's image", setup: setup{usedBy: "stopped", remove: "<ID>", force: true,
			want: []string{"Deleted: <ID>"}}},
		{desc: "running container refuses even with force", setup: setup{usedBy: "running", remove: "<ID>", force: true,
			wantErr: "conflict: unable to delete <SHORT> (cannot be forced) - image is being used by running container c0ffee012345", stillThere: true}},
		{desc: "forced tag of a running container's image only untags", setup: setup{tags: []string{"app"}, usedBy: "running", remove: "app", force: true,
			want: []string{"Untagged: app:latest"}, stillThere: true}},
		{desc: "image with a child cannot be deleted", setup: setup{tags: []string{"base"}, child: "kid", remove: "<ID>", force: true,
			wantErr: "conflict: unable to delete <SHORT> (cannot be forced) - image has dependent child images", stillThere: true}},
		{desc: "last tag of an image with a child only untags", setup: setup{tags: []string{"base"}, child: "kid", remove: "base",
			want: []string{"Untagged: base:latest"}, stillThere: true}},
		{desc: "removing the child prunes the untagged parent", setup: setup{child: "kid", remove: "kid",
			want: []string{"Untagged: kid:latest", "Deleted: <CHILD>", "Deleted: <ID>"}}},
		{desc: "--no-prune keeps the untagged parent", setup: setup{child: "kid", remove: "kid", noPrune: true,
			want: []string{"Untagged: kid:latest", "Deleted: <CHILD>"}, stillThere: true}},
		{desc: "tagged parent is not pruned", setup: setup{tags: []string{"base"}, child: "kid", remove: "kid",
			want: []string{"Untagged: kid:latest", "Deleted: <CHILD>"}, stillThere: true}},
		{desc: "unknown name", setup: setup{tags: []string{"app"}, remove: "nope", wantErr: "No such image: nope:latest", stillThere: true}},
		{desc: "unknown tag of a known repository", setup: setup{tags: []string{"a:1"}, remove: "a:2", wantErr: "No such image: a:2", stillThere: true}},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			e := newEnv(t)
			ctx := context.Background()
			img := e.importTar(t, smallTar(t, "f", tc.desc), "")
			for _, tag := range tc.tags {
				if err := e.is.Tag(img.ID, tag); err != nil {
					t.Fatal(err)
				}
			}
			subst := map[string]string{"<ID>": img.ID, "<SHORT>": img.ShortID()}
			if tc.child != "" {
				ref := tc.child
				if ref == "-" {
					ref = ""
				}
				child, err := e.is.Commit(ctx, CommitOptions{Parent: img, Layer: bytes.NewReader(smallTar(t, "g", "child")), Ref: ref})
				if err != nil {
					t.Fatal(err)
				}
				subst["<CHILD>"] = child.ID
			}
			inUse := func(id string) []Usage {
				if id == img.ID && tc.usedBy != "" {
					return []Usage{{ContainerID: ctrID, Running: tc.usedBy == "running"}}
				}
				return nil
			}
			replace := func(s string) string {
				for k, v := range subst {
					s = strings.ReplaceAll(s, k, v)
				}
				return s
			}
			got, err := e.is.Remove(replace(tc.remove), RemoveOptions{Force: tc.force, NoPrune: tc.noPrune, InUse: inUse})
			if tc.wantErr != "" {
				if err == nil || err.Error() != replace(tc.wantErr) {
					t.Fatalf("error %q\nwant  %q", err, replace(tc.wantErr))
				}
				if strings.HasPrefix(tc.wantErr, "conflict") && !errdefs.IsConflict(err) {
					t.Fatalf("not a conflict: %v", err)
				}
			} else if err != nil {
				t.Fatal(err)
			}
			var lines []string
			for _, d := range got {
				if d.Untagged != "" {
					lines = append(lines, "Untagged: "+d.Untagged)
				} else {
					lines = append(lines, "Deleted: "+d.Deleted)
				}
			}
			var want []string
			for _, w := range tc.want {
				want = append(want, replace(w))
			}
			if !reflect.DeepEqual(lines, want) {
				t.Fatalf("output %q\nwant   %q", lines, want)
			}
			_, err = e.is.Get(img.ID)
			if (err == nil) != tc.stillThere {
				t.Fatalf("image still there = %v, want %v", err == nil, tc.stillThere)
			}
			e.mustCheck(t)
		})
	}
}

func TestTagMovesAndLastTagTime(t *testing.T) {
	e := newEnv(t)
	a := e.importTar(t, smallTar(t, "a", "a"), "app:v1")
	b := e.importTar(t, smallTar(t, "b", "b"), "")
	if err := e.is.Tag(b.ShortID(), "app:v1"); err != nil {
		t.Fatal(err)
	}
	a2, _ := e.is.Get(a.ID)
	b2, _ := e.is.Get("app:v1")
	if b2.ID != b.ID || len(a2.RepoTags) != 0 || b2.LastTagTime.IsZero() {
		t.Fatalf("tag did not move: a=%v b=%v", a2.RepoTags, b2.RepoTags)
	}
	for _, tc := range []struct{ src, dst string }{
		{src: "nope", dst: "x"},
		{src: b.ID, dst: "x@sha256:" + strings.Repeat("1", 64)},
		{src: b.ID, dst: "Bad"},
	} {
		if err := e.is.Tag(tc.src, tc.dst); err == nil {
			t.Errorf("Tag(%s, %s) succeeded", tc.src, tc.dst)
		}
	}
}

func TestPrune(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	dangling := e.importTar(t, smallTar(t, "d", "dangling"), "")
	tagged := e.importTar(t, smallTar(t, "t", "tagged"), "keep:me")
	used := e.importTar(t, smallTar(t, "u", "used"), "")
	base := e.importTar(t, smallTar(t, "b", "base"), "")
	child, err := e.is.Commit(ctx, CommitOptions{Parent: base, Layer: bytes.NewReader(smallTar(t, "c", "child")), Ref: "child"})
	if err != nil {
		t.Fatal(err)
	}
	inUse := func(id string) []Usage {
		if id == used.ID {
			return []Usage{{ContainerID: ctrID}}
		}
		return nil
	}
	deleted, reclaimed, err := e.is.Prune(PruneOptions{InUse: inUse})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(deleted, []Deleted{{Deleted: dangling.ID}}) || reclaimed <= 0 {
		t.Fatalf("dangling prune: %v, %d bytes", deleted, reclaimed)
	}
	if e.cs.Exists(dangling.Layers[0].Digest) {
		t.Fatal("dangling image's layer blob survived prune")
	}
	if _, err := e.snaps.Stat(dangling.TopChainID()); !errdefs.IsNotFound(err) {
		t.Fatalf("dangling image's snapshot survived prune: %v", err)
	}
	// A filter that refuses everything prunes nothing.
	deleted, _, err = e.is.Prune(PruneOptions{All: true, InUse: inUse, Filter: func(*Image) bool { return false }})
	if err != nil || len(deleted) != 0 {
		t.Fatalf("filtered prune: %v %v", deleted, err)
	}
	deleted, _, err = e.is.Prune(PruneOptions{All: true, InUse: inUse})
	if err != nil {
		t.Fatal(err)
	}
	gone := map[string]bool{}
	for _, d := range deleted {
		gone[d.Deleted] = true
	}
	if !gone[tagged.ID] || !gone[child.ID] || !gone[base.ID] || gone[used.ID] {
		t.Fatalf("prune -a: %v", deleted)
	}
	imgs, _ := e.is.List()
	if len(imgs) != 1 || imgs[0].ID != used.ID {
		t.Fatalf("left: %v", imgs)
	}
	// Only the used image's blobs remain: layer, config, manifest.
	blobs, _ := e.cs.List()
	if len(blobs) != 3 {
		t.Fatalf("blobs left: %v", blobs)
	}
	e.mustCheck(t)
}

func TestListOrderAndChildren(t *testing.T) {
	e := newEnv(t)
	var ids []string
	for i := 0; i < 3; i++ {
		ids = append(ids, e.importTar(t, smallTar(t, "f", fmt.Sprint(i)), fmt.Sprintf("img:%d", i)).ID)
	}
	imgs, err := e.is.List()
	if err != nil || len(imgs) != 3 {
		t.Fatal(imgs, err)
	}
	for i := 1; i < len(imgs); i++ {
		if imgs[i].Created.After(imgs[i-1].Created) {
			t.Fatal("List not newest first")
		}
	}
	base, _ := e.is.Get(ids[0])
	child, err := e.is.Commit(context.Background(), CommitOptions{Parent: base, Config: v1.Config{User: "x"}})
	if err != nil {
		t.Fatal(err)
	}
	kids, _ := e.is.Children(base.ID)
	if !reflect.DeepEqual(kids, []string{child.ID}) {
		t.Fatalf("children %v", kids)
	}
	var nf *NotFoundError
	if _, err := e.is.Remove("img:9", RemoveOptions{}); !errors.As(err, &nf) {
		t.Fatalf("remove unknown: %v", err)
	}
}
